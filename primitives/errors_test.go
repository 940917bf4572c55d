package primitives_test

import (
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// TestErrorPrefixOnce walks the package's sentinels and the errors that
// wrap them: each names the package once, and errors.Is still matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrTimeout": primitives.ErrTimeout, "ErrBusy": primitives.ErrBusy,
		"ErrReadOnly": primitives.ErrReadOnly, "ErrTokenReleased": primitives.ErrTokenReleased,
		"ErrWrongManager": primitives.ErrWrongManager, "ErrInvalidLevel": primitives.ErrInvalidLevel,
		"ErrPinUnsupported": primitives.ErrPinUnsupported, "ErrNoCPU": primitives.ErrNoCPU,
	}
	_, err := primitives.NewTokenManager(primitives.Level(200))
	if !errors.Is(err, primitives.ErrInvalidLevel) {
		t.Errorf("NewTokenManager(200) = %v", err)
	}
	errs["NewTokenManager"] = err
	if primitives.PinSupported {
		err = primitives.PinThread(-1)
		if !errors.Is(err, primitives.ErrNoCPU) {
			t.Errorf("PinThread(-1) = %v", err)
		}
		errs["PinThread(-1)"] = err
	}
	testutil.CheckErrors(t, errs)
}
