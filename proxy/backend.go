package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// toxic is one Toxiproxy toxic as both APIs describe it.
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// backend is a Toxiproxy server: the embedded one or an external one.
type backend interface {
	// open makes a started proxy for link l, listening on 127.0.0.1, with
	// the initial toxics in place before its first connection.
	open(l *Link, initial []toxic) (handle, error)
	// custom reports whether the server knows Faultline's MQTT toxic.
	custom() bool
	close() error
}

// handle is one link's proxy on a backend.
type handle interface {
	listen() string
	add(t toxic) error
	remove(name string) error
	enable(on bool) error
	delete() error
}

// apiTimeout bounds every call into Toxiproxy. Toxiproxy's toxic API blocks
// forever when a toxic changes while a link's reader is stalled (its known
// deadlock); a bounded call turns that into a clear error instead of a hang.
const apiTimeout = 5 * time.Second

var errAPITimeout = errors.New("toxiproxy did not answer within 5s (a client that stopped reading can deadlock a proxy's toxic API)")

// bounded runs f with apiTimeout. On timeout the call is abandoned.
func bounded(what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, errAPITimeout)
	}
}
