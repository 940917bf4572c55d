package mailbox_test

import (
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/mailbox"
)

// TestErrorPrefixOnce walks the mailbox's sentinels and the errors that
// wrap them: each names the package once, and errors.Is still matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrClosed": mailbox.ErrClosed, "ErrFull": mailbox.ErrFull, "ErrWoken": mailbox.ErrWoken,
		"ErrBatchTooLarge": mailbox.ErrBatchTooLarge, "ErrInvalidCapacity": mailbox.ErrInvalidCapacity,
	}
	_, err := mailbox.NewBounded[int](-1, mailbox.Config{})
	if !errors.Is(err, mailbox.ErrInvalidCapacity) {
		t.Errorf("NewBounded(-1) = %v", err)
	}
	errs["NewBounded(-1)"] = err
	m, err := mailbox.NewBounded[int](2, mailbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = m.SendBatch([]int{1, 2, 3})
	if !errors.Is(err, mailbox.ErrBatchTooLarge) {
		t.Errorf("SendBatch of 3 into 2 = %v", err)
	}
	errs["SendBatch"] = err
	m.Close()
	errs["Send after Close"] = m.Send(1)
	testutil.CheckErrors(t, errs)
}

// TestSpinKnob: 0 means the default in every spin knob, NoSpin none.
func TestSpinKnob(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  mailbox.Config
		want int
	}{
		{"zero", mailbox.Config{}, 0},
		{"futex zero", mailbox.Config{Futex: true}, mailbox.DefaultSpin},
		{"futex NoSpin", mailbox.Config{Futex: true, Spin: mailbox.NoSpin}, 0},
		{"futex -7", mailbox.Config{Futex: true, Spin: -7}, 0},
		{"100", mailbox.Config{Spin: 100}, 100},
	} {
		if got := mailbox.New[int](c.cfg).SpinCount(); got != c.want {
			t.Errorf("%s: spin %d, want %d", c.name, got, c.want)
		}
	}
}
