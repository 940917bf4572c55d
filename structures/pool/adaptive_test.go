package pool

import (
	"errors"
	"strings"
	"testing"
)

func TestAdaptive(t *testing.T) {
	cases := []struct {
		cfg  Config
		want Level
	}{
		{Realtime(), LevelFixedCapacity},
		{Config{FixedCapacity: 1 << 20, SingleOwner: true}, LevelFixedCapacity},
		{Config{SingleOwner: true}, LevelNoLocking},
	}
	for _, c := range cases {
		p, err := NewAdaptive(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if p.Level() != c.want {
			t.Errorf("%+v: level %v, want %v", c.cfg, p.Level(), c.want)
		}
	}
	// Shared pools are never NoLocking, whatever the machine.
	for _, cfg := range []Config{{}, PerformanceOptimized(), MemoryOptimized(), {MaxFastBlock: 512 << 10}} {
		l, err := ChooseLevel(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if l == LevelNoLocking || l == LevelFixedCapacity {
			t.Errorf("%+v: shared pool got %v", cfg, l)
		}
		p, err := NewAdaptive(cfg)
		if err != nil || p.Level() != l {
			t.Errorf("NewAdaptive(%+v) = %v, %v; ChooseLevel says %v", cfg, p, err, l)
		}
	}
	if _, err := NewAdaptive(Config{Alignment: 3}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("invalid config: %v", err)
	}
}

func TestWithLevel(t *testing.T) {
	for l := LevelNoLocking; l <= LevelFixedCapacity; l++ {
		cfg := testConfig()
		cfg.FixedCapacity = cfg.MaxBytes
		p, err := WithLevel(cfg, l)
		if err != nil {
			t.Fatal(l, err)
		}
		if p.Level() != l {
			t.Errorf("WithLevel(%v).Level() = %v", l, p.Level())
		}
		off, err := p.Alloc(100)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Free(off, 100); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l.String(), "Level(") {
			t.Errorf("Level(%d).String() = %q", int(l), l.String())
		}
	}
	if Level(9).String() != "Level(9)" {
		t.Errorf("Level(9).String() = %q", Level(9).String())
	}
	for _, l := range []Level{0, 6, -1} {
		if p, err := WithLevel(Config{}, l); !errors.Is(err, ErrInvalidLevel) || p != nil {
			t.Errorf("WithLevel(%d) = %v, %v", int(l), p, err)
		}
	}
	if p, err := WithLevel(Config{}, LevelFixedCapacity); err == nil || p != nil {
		t.Errorf("FixedCapacity without a capacity: %v, %v", p, err)
	}
	if p, err := WithLevel(Config{Alignment: 3}, LevelMutex); err == nil || p != nil {
		t.Errorf("invalid config gives a non-nil pool: %v %v", p, err)
	}
}
