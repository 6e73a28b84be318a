package proxy

import (
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// tapType is the Toxiproxy type name of Faultline's MQTT toxic.
const tapType = "faultline_mqtt"

func init() { toxics.Register(tapType, new(mqttToxic)) }

// mqttToxic decodes the MQTT packets of one direction of a link without
// altering or delaying them, records them in the link's trace, and cuts
// the connection where a cut armed on the link says. One is added per
// direction when a link's proxy is created, before its first connection.
type mqttToxic struct {
	Link string `json:"link"` // id of the link's tap in the registry
	Dir  string `json:"dir"`  // "upstream" or "downstream"
}

func (t *mqttToxic) direction() Direction {
	if t.Dir == "downstream" {
		return FromBroker
	}
	return ToBroker
}

// NewState is called once per connection and direction: it is where the
// two halves of a connection meet in the link's tap.
func (t *mqttToxic) NewState() any {
	tp := lookupTap(t.Link)
	if tp == nil {
		return (*tapHalf)(nil)
	}
	return tp.half(t.direction())
}

func (t *mqttToxic) Pipe(stub *toxics.ToxicStub) {
	h, _ := stub.State.(*tapHalf)
	if h == nil { // the link is gone: behave as a plain pipe
		new(toxics.NoopToxic).Pipe(stub)
		return
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				if rest := h.eof(); len(rest) > 0 {
					stub.Output <- &stream.StreamChunk{Data: rest, Timestamp: time.Now()}
				}
				stub.Close()
				return
			}
			if h.pass(c.Data, c.Timestamp) {
				stub.Output <- c
				h.settle()
				continue
			}
			out, end := h.feed(c.Data)
			if len(out) > 0 {
				stub.Output <- &stream.StreamChunk{Data: out, Timestamp: c.Timestamp}
			}
			if end {
				stub.Close()
				return
			}
		}
	}
}

// registry maps link ids to taps: a toxic is configured by JSON
// attributes, so it finds its link by id.
var registry sync.Map

func registerTap(id string, t *tap) { registry.Store(id, t) }
func unregisterTap(id string)       { registry.Delete(id) }

func lookupTap(id string) *tap {
	v, ok := registry.Load(id)
	if !ok {
		return nil
	}
	return v.(*tap)
}
