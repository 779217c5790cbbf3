//! The offline page `--html` writes: the data it embeds.

mod common;

use common::{parse, timeline, Json, JsonExt};
use trace_view::{standalone_html, write_standalone_html};

fn embedded(html: &str) -> Json {
    let open = "<script type=\"application/json\" id=\"trace-data\">";
    let start = html.find(open).expect("data element") + open.len();
    let end = start + html[start..].find("</script>").expect("end of data");
    parse(&html[start..end])
}

fn items(data: &Json) -> usize {
    let w = data.at("window");
    let mut n = 0;
    for l in w.at("lanes").arr() {
        for row in l.at("rows").arr() {
            n += row.arr().len() / 8;
        }
        n += l.at("marks").arr().len() / 7;
    }
    n
}

#[test]
fn small_trace_is_embedded_whole() {
    let tl = timeline("go123-testprog-annotations.trace");
    let (html, res) = standalone_html(&tl, 1_000_000).unwrap();
    assert_eq!(res, 0);
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing to fetch"
    );
    let data = embedded(&html);
    assert_eq!(data.at("title").str(), "go123-testprog-annotations.trace");
    assert_eq!(data.at("window").at("lanes").arr().len(), tl.lanes().len());
    assert_eq!(items(&data) as u64, tl.stats().slices + tl.stats().marks);
    // Every stack a slice, mark, task or lane refers to is embedded.
    let stacks = data.at("stacks").obj();
    for l in data.at("window").at("lanes").arr() {
        for row in l.at("rows").arr() {
            for s in row.nums().chunks(8) {
                for id in [s[5], s[6]] {
                    assert!(
                        id == 0 || stacks.contains_key(&id.to_string()),
                        "stack {id}"
                    );
                }
            }
        }
    }
    assert!(data
        .at("strings")
        .obj()
        .values()
        .any(|s| s.str() == "region1"));
    assert_eq!(
        data.at("chartData").at("charts").arr().len(),
        tl.charts().len()
    );
    // The task's details are embedded, with the strings they use.
    let task = data.at("taskDetails").at("1");
    let log = task.at("logs").arr()[0].nums();
    assert_eq!(
        data.at("strings").at(&log[2].to_string()).str(),
        "0123456789abcdef"
    );
    assert!(!task.at("regions").arr().is_empty());
}

#[test]
fn busy_trace_is_merged_to_the_budget() {
    let tl = timeline("go123-testprog-gomaxprocs-advance0.trace");
    let budget = 5_000;
    assert!(tl.stats().slices > budget as u64);
    let (html, res) = standalone_html(&tl, budget).unwrap();
    assert!(res > 0);
    let data = embedded(&html);
    assert!(items(&data) <= budget, "{} items", items(&data));
    assert_eq!(data.at("window").at("res").num() as i64, res);
    // Merged blocks still account for every slice.
    let total: i64 = data
        .at("window")
        .at("lanes")
        .arr()
        .iter()
        .flat_map(|l| l.at("rows").arr())
        .flat_map(|r| r.nums().chunks(8).map(|s| s[7]).collect::<Vec<_>>())
        .sum();
    assert_eq!(total as u64, tl.stats().slices);
    // The resolution is the finest within the budget: the page has exactly
    // as many items with that budget, and one fewer forces a coarser one.
    let n = items(&data);
    assert_eq!(standalone_html(&tl, n).unwrap().1, res);
    let coarser = standalone_html(&tl, n - 1).unwrap().1;
    assert!(coarser > res, "{coarser} vs {res}");
}

#[test]
fn written_page_is_the_same_page() {
    for (name, budget) in [
        ("go123-testprog-annotations.trace", 1_000_000),
        ("go123-testprog-gomaxprocs-advance0.trace", 5_000),
    ] {
        let tl = timeline(name);
        let (html, res) = standalone_html(&tl, budget).unwrap();
        let mut out = Vec::new();
        assert_eq!(write_standalone_html(&tl, budget, &mut out).unwrap(), res);
        assert!(out == html.as_bytes(), "{name}");
    }
}
