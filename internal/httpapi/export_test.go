package httpapi

import "errors"

// AsError exposes errors.As on *Error to the black-box tests.
func AsError(err error, target **Error) bool { return errors.As(err, target) }
