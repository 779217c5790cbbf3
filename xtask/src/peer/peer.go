// The Go side of `cargo xtask peer`: the same workload as trace-flight's
// `peer` example, against Go's runtime/trace.FlightRecorder. Prints
// key=value lines.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

func regionPair(ctx context.Context) {
	trace.StartRegion(ctx, "region").End()
}

// nsPerPair times n region pairs on this goroutine.
func nsPerPair(ctx context.Context, n int) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		regionPair(ctx)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func main() {
	seconds := flag.Float64("seconds", 3, "load duration")
	workers := flag.Int("workers", 2, "loaded goroutines")
	maxBytes := flag.Uint64("max-bytes", 10<<20, "FlightRecorderConfig.MaxBytes")
	pairs := flag.Int("pairs", 1_000_000, "region pairs timed")
	flag.Parse()
	ctx := context.Background()

	fmt.Printf("region_pair_off_ns=%.2f\n", nsPerPair(ctx, *pairs))
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 10 * time.Second, MaxBytes: *maxBytes})
	if err := fr.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("region_pair_on_ns=%.2f\n", nsPerPair(ctx, *pairs))

	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				task_ctx, task := trace.NewTask(ctx, "request")
				trace.StartRegion(task_ctx, "handle").End()
				trace.Log(task_ctx, "request", "served")
				task.End()
			}
		}()
	}
	var buf bytes.Buffer
	var n int
	var sum, max time.Duration
	var largest int
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		buf.Reset()
		start := time.Now()
		if _, err := fr.WriteTo(&buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		d := time.Since(start)
		n++
		sum += d
		if d > max {
			max = d
		}
		if buf.Len() > largest {
			largest = buf.Len()
		}
	}
	stop.Store(true)
	wg.Wait()
	fr.Stop()
	fmt.Printf("snapshots=%d\n", n)
	fmt.Printf("snapshot_mean_ms=%.3f\n", float64(sum.Microseconds())/1000/float64(n))
	fmt.Printf("snapshot_max_ms=%.3f\n", float64(max.Microseconds())/1000)
	fmt.Printf("snapshot_largest_bytes=%d\n", largest)
	fmt.Printf("max_bytes=%d\n", *maxBytes)
}
