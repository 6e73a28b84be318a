package framework

import (
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// store is paho's in-memory session store with one correction that makes
// paho a well-behaved QoS 2 sender. paho keeps a QoS 2 PUBLISH in its
// store until PUBCOMP and never stores the PUBREL it sends, so after a
// reconnect it re-sends the PUBLISH even when it had already sent PUBREL,
// which MQTT forbids [MQTT-4.3.3-1] (a broker that has completed the flow
// then rightly takes it as a new message). When the client's PUBREL
// crosses its link, released swaps the stored PUBLISH for that PUBREL, so
// the resumed session re-sends the PUBREL, as [MQTT-4.4.0-1] requires.
type store struct {
	mqtt.Store
}

func newStore() *store { return &store{Store: mqtt.NewMemoryStore()} }

// released records that the client sent PUBREL for packet id.
func (s *store) released(id uint16) {
	key := fmt.Sprintf("o.%d", id)
	if p, ok := s.Get(key).(*packets.PublishPacket); ok && p.Qos == 2 {
		rel := packets.NewControlPacket(packets.Pubrel).(*packets.PubrelPacket)
		rel.MessageID = id
		s.Put(key, rel)
	}
}
