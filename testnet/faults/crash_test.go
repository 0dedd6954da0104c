package faults

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestCrashAndRestart kills one validator of four with SIGKILL at random
// moments under load, again and again: the other three carry on, the
// killed one restarts without repair and catches up.
func TestCrashAndRestart(t *testing.T) {
	c := NewCluster(t, ClusterOptions{})
	s := NewScenario(t, "crash and restart (SIGKILL)")
	w, ctx := StartWorkload(t, c, 40)

	names := c.Names()
	for round := 0; round < rounds(3, 6); round++ {
		time.Sleep(time.Duration(500+rand.IntN(2500)) * time.Millisecond)
		victim := rand.IntN(len(names))
		before := c.MaxHeight(ctx)
		if err := c.Net.Kill(names[victim]); err != nil {
			t.Fatal(err)
		}
		s.Fault("SIGKILL %s at height %d", names[victim], before)
		var others []int
		for i := range names {
			if i != victim {
				others = append(others, i)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, err := c.WaitProgress(wctx, before, others)
		cancel()
		if err != nil {
			t.Fatalf("the three survivors stopped: %v", err)
		}
		s.Resumed(d, "the survivors committed a block after the kill")
		time.Sleep(time.Duration(500+rand.IntN(2000)) * time.Millisecond)
		if err := c.Restart(names[victim], nil); err != nil {
			t.Fatal(err)
		}
		wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		d, err = c.WaitCaughtUp(wctx, victim)
		cancel()
		if err != nil {
			t.Fatalf("%s did not catch up after restart: %v", names[victim], err)
		}
		s.Resumed(d, names[victim]+" caught up after restart")
	}
	time.Sleep(2 * time.Second)
	w.Stop()
	s.Verify(context.Background(), c, w, nil)
}
