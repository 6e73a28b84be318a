package framework

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// store is the session store of a client's paho instance. It holds what
// paho stores and corrects three things so that the client behaves as MQTT
// asks of a client, and only the broker is judged:
//
//   - paho keeps a QoS 2 PUBLISH until PUBCOMP and never stores the PUBREL
//     it sends, so a resumed session would re-send the PUBLISH after PUBREL
//     [MQTT-4.3.3-1]. When the client writes its PUBREL (clientconn.go), released
//     swaps the stored PUBLISH for that PUBREL, which paho then re-sends
//     [MQTT-4.4.0-1].
//   - paho's memory store lists its keys in map order, so a resumed session
//     would re-send messages in any order. All lists them in the order they
//     were first stored [MQTT-4.6.0-1].
//   - paho re-sends stored messages after every reconnect, also into a new
//     session. When a CONNACK says no session is present, ended drops the
//     stored packets: the old session is gone [MQTT-3.1.2-6].
//
// Before paho reads the store to resume a session, the store brings the
// link's trace up to date, so the packets that have crossed the link are
// accounted for.
type store struct {
	sync func() // brings the link's trace (and so released and ended) up to date

	mu      sync.Mutex
	open    bool
	packets map[string]packets.ControlPacket
	order   []string
}

func newStore() *store { return &store{packets: map[string]packets.ControlPacket{}} }

var _ mqtt.Store = (*store)(nil)

func (s *store) Open() {
	s.mu.Lock()
	s.open = true
	s.mu.Unlock()
}

func (s *store) Close() {
	s.mu.Lock()
	s.open = false
	s.mu.Unlock()
}

func (s *store) Put(key string, p packets.ControlPacket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.packets[key]; !ok {
		s.order = append(s.order, key)
	}
	s.packets[key] = p
}

func (s *store) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets[key]
}

// All lists the keys in the order they were first stored.
func (s *store) All() []string {
	if s.sync != nil {
		s.sync()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

func (s *store) Del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.packets[key]; !ok {
		return
	}
	delete(s.packets, key)
	s.order = slices.DeleteFunc(s.order, func(k string) bool { return k == key })
}

func (s *store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.packets)
	s.order = nil
}

// released records that the client sent PUBREL for packet id.
func (s *store) released(id uint16) {
	key := fmt.Sprintf("o.%d", id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.packets[key].(*packets.PublishPacket); ok && p.Qos == 2 {
		rel := packets.NewControlPacket(packets.Pubrel).(*packets.PubrelPacket)
		rel.MessageID = id
		s.packets[key] = rel
	}
}

// ended drops the outbound session state: the broker has none.
func (s *store) ended() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = slices.DeleteFunc(s.order, func(k string) bool {
		if strings.HasPrefix(k, "o.") {
			delete(s.packets, k)
			return true
		}
		return false
	})
}
