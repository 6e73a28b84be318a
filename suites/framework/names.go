package framework

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// Names unique to the run, the process and the spec: client ids and
// topics, so that specs running in parallel, and runs sharing a broker,
// never meet.

// DollarTopic returns a topic unique to this spec whose first level starts
// with '$' ("$faultline/<run>/<spec>/name"): a topic no filter starting
// with a wildcard may match [MQTT-4.7.2-1], and not a $SYS topic.
func (f *Framework) DollarTopic(name string) string { return "$" + f.Topic(name) }

// BelowFirstLevel returns topic without its first level ("a/b/c" → "b/c"),
// to build filters such as "+/" + BelowFirstLevel(topic).
func BelowFirstLevel(topic string) string {
	_, rest, _ := strings.Cut(topic, "/")
	return rest
}

// newRunID returns 6 random lowercase letters and digits.
func newRunID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for range 6 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

// clientID returns a client id unique to the run, process and call: at
// most 23 letters and digits, the only ids MQTT 3.1.1 obliges every broker
// to accept [MQTT-3.1.3-5].
func (r *run) clientID() string {
	id := fmt.Sprintf("fl%sp%dc%d", r.ID, ginkgo.GinkgoParallelProcess(), r.seq.Add(1))
	if len(id) > 23 {
		panic("framework: client id " + id + " is longer than 23 characters")
	}
	return id
}

// specTopicRoot returns a topic subtree unique to one spec.
func (r *run) specTopicRoot() string {
	return fmt.Sprintf("%s/%s/p%ds%d", r.Prefix, r.ID, ginkgo.GinkgoParallelProcess(), r.seq.Add(1))
}

// Topic returns a topic unique to this spec, ending in name.
func (f *Framework) Topic(name string) string { return f.root + "/" + name }

// TopicRoot is the subtree every topic of this spec lives under.
func (f *Framework) TopicRoot() string { return f.root }
