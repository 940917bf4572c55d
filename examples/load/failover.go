package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runFailover measures one leader failure: -failover-writers clients
// write keys under -failover-prefix through the nodes that do not lead
// (each its own key sequence), the leader (of -failover-range, for
// zipora) is killed with SIGKILL after -failover-pre, and the run reports
// the time from the kill to the acknowledgement of the first write sent
// after it, then,
// after -failover-post more, reads every acknowledged key back
// linearizably through a survivor: an acknowledged write that is missing
// is lost. A lost write fails the run.
func runFailover(ctx context.Context, o options, client *http.Client, stdout io.Writer) error {
	var pids []int
	for p := range strings.SplitSeq(o.pids, ",") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("-pids %q: %w", o.pids, err)
		}
		pids = append(pids, n)
	}
	if len(pids) != len(o.urls) {
		return fmt.Errorf("-pids: %d pids for %d urls", len(pids), len(o.urls))
	}
	lead, err := o.findLeader(ctx, client)
	if err != nil {
		return err
	}
	var survivors []string
	for i, u := range o.urls {
		if i != lead {
			survivors = append(survivors, u)
		}
	}
	var (
		mu     sync.Mutex
		acked  []string
		killed time.Time // zero until the kill
		first  time.Time // first acknowledgement after the kill
		stop   = make(chan struct{})
		gotOne = make(chan struct{})
		wg     sync.WaitGroup
		errs   int
	)
	run := fmt.Sprintf("%s/%d", o.failPrefix, time.Now().UnixNano())
	for w := range o.writers {
		wg.Go(func() {
			base := survivors[w%len(survivors)]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("%s/w%02d/%06d", run, w, i)
				method, path, body := o.request(opPut, k, k)
				sent := time.Now()
				if doOnce(ctx, client, method, base+path, body) != nil {
					mu.Lock()
					errs++
					mu.Unlock()
					continue
				}
				now := time.Now()
				mu.Lock()
				acked = append(acked, k)
				// the first write sent after the kill (one sent before may
				// have been committed before it and acknowledged later)
				if !killed.IsZero() && first.IsZero() && sent.After(killed) {
					first = now
					close(gotOne)
				}
				mu.Unlock()
			}
		})
	}
	wait := func(d time.Duration) { // a tool's pacing, not synchronization
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	wait(o.pre)
	if now, err := o.findLeader(ctx, client); err != nil || now != lead {
		// leadership moved meanwhile (a balancer, an election): killing
		// the old leader would measure nothing
		close(stop)
		wg.Wait()
		fmt.Fprintf(stdout, "FAILOVER-RETRY leader moved from %s before the kill\n", o.urls[lead])
		return errLeaderMoved
	}
	proc, err := os.FindProcess(pids[lead])
	if err == nil {
		mu.Lock()
		killed = time.Now()
		mu.Unlock()
		err = proc.Kill() // SIGKILL on unix
	}
	if err != nil {
		close(stop)
		wg.Wait()
		return fmt.Errorf("kill pid %d: %w", pids[lead], err)
	}
	var took time.Duration
	select {
	case <-gotOne:
		mu.Lock()
		took = first.Sub(killed)
		mu.Unlock()
	case <-time.After(60 * time.Second):
		took = -1
	case <-ctx.Done():
	}
	wait(o.post)
	close(stop)
	wg.Wait()
	lost := 0
	rd := o.target
	rd.consistency = "linearizable"
	for _, k := range acked {
		ok := false
		for try := 0; try < 50 && !ok && ctx.Err() == nil; try++ {
			method, path, body := rd.request(opGet, k, "")
			code, b, err := doRead(ctx, client, method, survivors[try%len(survivors)]+path, body)
			switch {
			case err == nil && rd.found(code, b):
				ok = true
			case err == nil && (code == http.StatusOK || code == http.StatusNotFound):
				try = 50 // answered: the key is not there
			default:
				wait(100 * time.Millisecond) // no leader yet: ask again
			}
		}
		if !ok {
			lost++
		}
	}
	fmt.Fprintf(stdout, "failover (%s): killed %s (pid %d, the leader); first write sent after the SIGKILL acknowledged %v after it; %d writes acknowledged, %d lost; %d writes failed meanwhile\n",
		o.kind, o.urls[lead], pids[lead], took.Round(time.Millisecond), len(acked), lost, errs)
	fmt.Fprintf(stdout, "FAILOVER target=%s killed=%d failover_ms=%d acked=%d lost=%d\n", o.kind, lead, took.Milliseconds(), len(acked), lost)
	if took < 0 {
		return errors.New("no write was acknowledged within 60 s of the kill")
	}
	if lost > 0 {
		return fmt.Errorf("%d acknowledged writes lost", lost)
	}
	return nil
}

// errLeaderMoved: the leader changed before the kill; run again.
var errLeaderMoved = errors.New("the leader moved before the kill")

// findLeader returns the index in -url of the leader: of -failover-range
// for zipora (GET /cluster), of the cluster for etcd
// (/v3/maintenance/status: the member whose ID is the leader's).
func (o options) findLeader(ctx context.Context, client *http.Client) (int, error) {
	for attempt := 0; attempt < 100 && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond) // waiting for an election: a tool's pacing
		}
		if o.kind == "etcd" {
			for i, u := range o.urls {
				var st struct {
					Header struct {
						MemberID string `json:"member_id"`
					} `json:"header"`
					Leader string `json:"leader"`
				}
				if fetchJSON(ctx, client, "POST", u+"/v3/maintenance/status", strings.NewReader("{}"), &st) == nil &&
					st.Leader != "" && st.Leader == st.Header.MemberID {
					return i, nil
				}
			}
			continue
		}
		for i, u := range o.urls {
			var v struct {
				Node   string `json:"node"`
				Ranges []struct {
					Leader string `json:"leader"`
				} `json:"ranges"`
			}
			if fetchJSON(ctx, client, "GET", u+"/cluster", nil, &v) == nil && o.failRange < len(v.Ranges) &&
				v.Ranges[o.failRange].Leader == v.Node {
				return i, nil
			}
		}
	}
	return 0, errors.New("no leader found")
}

// doOnce sends one write; nil when it was acknowledged (2xx).
func doOnce(ctx context.Context, client *http.Client, method, u string, body io.Reader) error {
	code, _, err := doRead(ctx, client, method, u, body)
	if err == nil && (code < 200 || code > 299) {
		err = fmt.Errorf("status %d", code)
	}
	return err
}

func doRead(ctx context.Context, client *http.Client, method, u string, body io.Reader) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
