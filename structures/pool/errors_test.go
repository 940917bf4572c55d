package pool_test

import (
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/structures/pool"
)

// TestErrorPrefixOnce walks the package's sentinels and a sample of the
// errors that wrap them: each names the package once, and errors.Is still
// matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrInvalidSize": pool.ErrInvalidSize, "ErrTooLarge": pool.ErrTooLarge,
		"ErrExhausted": pool.ErrExhausted, "ErrInvalidFree": pool.ErrInvalidFree,
		"ErrInvalidConfig": pool.ErrInvalidConfig, "ErrInvalidLevel": pool.ErrInvalidLevel,
		"ErrCacheClosed": pool.ErrCacheClosed,
	}
	must := func(name string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v does not match %v", name, err, target)
		}
		errs[name] = err
	}
	_, err := pool.NewNoLocking(pool.Config{Alignment: 3})
	must("NewNoLocking", err, pool.ErrInvalidConfig)
	_, err = pool.NewFixedCapacity(pool.Config{})
	must("NewFixedCapacity", err, pool.ErrInvalidConfig)
	_, err = pool.WithLevel(pool.Config{}, pool.Level(99))
	must("WithLevel", err, pool.ErrInvalidLevel)
	p, err := pool.NewNoLocking(pool.Config{MaxBytes: 1 << 20, ChunkSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Alloc(0)
	must("Alloc(0)", err, pool.ErrInvalidSize)
	_, err = p.Alloc(2 << 20)
	must("Alloc above MaxBytes", err, pool.ErrTooLarge)
	off, err := p.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Free(off, 64); err != nil {
		t.Fatal(err)
	}
	must("double Free", p.Free(off, 64), pool.ErrInvalidFree)
	testutil.CheckErrors(t, errs)
}
