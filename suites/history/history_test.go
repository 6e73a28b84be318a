package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	h := setup(false, "t/#", 2).sub("sub", "x/#", Refused, 11).
		pub("pub", "t/a", "p1-1", 1, 100, OutcomeFailed, 101).
		pub("pub", "t/a", "p1-2", 1, 102, OutcomePending, 0).
		retained("pub", "t/b", "p2-1", 2, 103).
		recv("sub", "t/b", "p2-1", 2, 110, "dup", "retain").
		lost("sub", 120).conn("sub", 130, false, true).unsub("sub", "t/#", 140).
		disc("sub", 150).drain("sub", 160).h
	h.Events[len(h.Events)-3].Err = "EOF"
	h.Base = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("Save wrote invalid JSON:\n%s", buf.String())
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(h.Events)+2 {
		t.Errorf("want one line per event, got %d lines for %d events", lines, len(h.Events))
	}
	got, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Base.Equal(h.Base) {
		t.Errorf("base %v, want %v", got.Base, h.Base)
	}
	got.Base, h.Base = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip changed the history:\n got %+v\nwant %+v", got, h)
	}
	if a, b := Check(got), Check(h); !reflect.DeepEqual(a, b) {
		t.Errorf("verdict changed after the round trip")
	}
}

func TestSaveLoadRecorded(t *testing.T) {
	r := NewRecorder()
	r.Connected("sub", true, false)
	r.Subscribed("sub", "t/#", 1, 1)
	r.Publish("pub", "t/a", "m-1", 1, false).Acked()
	r.Delivered("sub", "t/a", "m-1", 1, false, false)
	r.Drained("sub")
	h := r.History()
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Base.Equal(h.Base) || !reflect.DeepEqual(got.Events, h.Events) {
		t.Errorf("round trip changed the recorded history")
	}
	wantOK(t, Check(got))
}

func TestLoadRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":      `{"version":1,"events":[`,
		"newer version": `{"version":99,"events":[]}`,
		"unknown kind":  `{"version":1,"events":[{"kind":"teleported","client":"a","at":1}]}`,
		"no client":     `{"version":1,"events":[{"kind":"connected","at":1}]}`,
		"bad QoS":       `{"version":1,"events":[{"kind":"delivered","client":"a","at":1,"topic":"t","msg_id":"m","qos":3}]}`,
		"bad grant":     `{"version":1,"events":[{"kind":"subscribed","client":"a","at":1,"filter":"t","granted_qos":7}]}`,
		"bad outcome":   `{"version":1,"events":[{"kind":"publish","client":"a","at":1,"topic":"t","msg_id":"m","outcome":"maybe"}]}`,
		"duplicate id": `{"version":1,"events":[{"kind":"publish","client":"a","at":1,"topic":"t","msg_id":"m"},
			{"kind":"publish","client":"a","at":2,"topic":"t","msg_id":"m"}]}`,
	} {
		if _, err := Load(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: Load accepted %s", name, doc)
		}
	}
	if _, err := Load(strings.NewReader(`{"events":[]}`)); err != nil {
		t.Errorf("Load rejected an unversioned empty history: %v", err)
	}
}

func TestSaveWriteError(t *testing.T) {
	h := setup(true, "t/#", 1).h
	if err := h.Save(failWriter{}); err == nil {
		t.Error("Save ignored a write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
