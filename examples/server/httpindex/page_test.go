package httpindex

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPageInBrowser drives the search page in headless Chromium: it types
// prefixes into the search box and checks the listed completions against
// the model, the timing line, and the per-shard table.
func TestPageInBrowser(t *testing.T) {
	bin := chromium()
	if bin == "" {
		if os.Getenv("ZIPORA_BROWSER_TEST") == "required" {
			t.Fatal("ZIPORA_BROWSER_TEST=required but no chromium binary on PATH")
		}
		t.Skip("no chromium binary on PATH (apt-get install -y chromium): the page is not tested in a browser")
	}
	c, _ := startServer(t, "sharded")
	words := []string{"apple", "apricot", "apron", "april", "banana", "band", "bandana", "cherry", "z/1", "z/2"}
	m := map[string]string{}
	for _, w := range words {
		if code, body := c.do("PUT", keyPath(w), strings.NewReader("v"), nil); code != 201 {
			t.Fatal(code, body)
		}
		m[w] = "v"
	}

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	// shown waits until the page answered for prefix and returns the listed
	// keys.
	shown := func(prefix string) []string {
		t.Helper()
		cond := fmt.Sprintf(`document.getElementById("took").dataset.prefix === %q`, prefix)
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		keys, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results li")].map(li => li.textContent)`))
		if err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		return keys
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(c.base+"/"), chromedp.WaitVisible("#q")); err != nil {
		t.Fatal(err)
	}
	if got, want := shown(""), modelComplete(m, "", "", 20).Keys; !slices.Equal(got, want) {
		t.Fatalf("empty prefix: %q, want %q", got, want)
	}
	typed := ""
	for _, step := range []string{"a", "p", "r", "i"} { // keystroke by keystroke, as a user types
		if err := chromedp.Do(ctx, chromedp.SendKeys("#q", step)); err != nil {
			t.Fatal(err)
		}
		typed += step
		if got, want := shown(typed), modelComplete(m, typed, "", 20).Keys; !slices.Equal(got, want) {
			t.Fatalf("typed %q: page lists %q, want %q", typed, got, want)
		}
	}
	took, err := chromedp.Run(ctx, chromedp.Text("#took"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(took, fmt.Sprintf("%d keys for “apri” in ", len(modelComplete(m, "apri", "", 20).Keys))) || !strings.HasSuffix(took, " ms") {
		t.Fatalf("timing line: %q", took)
	}
	// Empty the box and type another prefix.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = ""`), chromedp.SendKeys("#q", "band")); err != nil {
		t.Fatal(err)
	}
	if got := shown("band"); !slices.Equal(got, []string{"band", "bandana"}) {
		t.Fatalf("band: %q", got)
	}
	// A prefix with more keys than a page: "more" adds the next page
	// (after the last key listed) until none is left.
	for i := range 45 {
		k := fmt.Sprintf("m/%02d", i)
		if code, body := c.do("PUT", keyPath(k), strings.NewReader("v"), nil); code != 201 {
			t.Fatal(code, body)
		}
		m[k] = "v"
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = ""`), chromedp.SendKeys("#q", "m/")); err != nil {
		t.Fatal(err)
	}
	if got, want := shown("m/"), modelComplete(m, "m/", "", 20).Keys; !slices.Equal(got, want) {
		t.Fatalf("m/: %q, want %q", got, want)
	}
	for n := 40; n <= 60; n += 20 {
		cond := fmt.Sprintf(`document.querySelectorAll("#results li").length === %d`, min(n, 45))
		if err := chromedp.Do(ctx, chromedp.Click("#more"), chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("more, to %d keys: %v", min(n, 45), err)
		}
	}
	all, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results li")].map(li => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("more").hidden`))
	if want := modelComplete(m, "m/", "", 100).Keys; err != nil || !slices.Equal(all, want) || !hidden {
		t.Fatalf("after paging: %q (more hidden %v, %v), want %q", all, hidden, err, want)
	}
	// The shard table: one row per shard, keys adding up to the model.
	// (The table refreshes every 2 s: wait for the one with every key.)
	rowsCond := fmt.Sprintf(`document.querySelectorAll("#shards tbody tr").length === 3 && [...document.querySelectorAll("#shards tbody tr")].reduce((n, tr) => n + Number(tr.cells[1].textContent), 0) === %d`, len(m))
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](rowsCond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll("#shards tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range rows {
		var n int
		fmt.Sscan(r[1], &n)
		total += n
	}
	if total != len(m) {
		t.Fatalf("shard table %q adds up to %d keys, want %d", rows, total, len(m))
	}
}
