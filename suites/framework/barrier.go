package framework

import (
	"context"
	"fmt"

	"github.com/onsi/ginkgo/v2"
)

// Sync is a round trip on the client's connection that proves the broker
// has acted on everything the client sent before it: an UNSUBSCRIBE of a
// filter the client never subscribed to, which the broker must answer
// with an UNSUBACK [MQTT-3.10.4-5] and answers only after the packets
// ahead of it on the same connection (a broker reads a connection in
// order). It changes nothing the spec observes: no message is published
// and no subscription is touched.
//
// Use it where a verdict would otherwise depend on the broker having done
// something "by now": after the CONNECT that ends a session, after a
// publish whose effect another client is about to look for.
func (c *Client) Sync(ctx context.Context) {
	ginkgo.GinkgoHelper()
	filter := c.spec.Topic("sync/" + c.Name)
	if err := c.Unsubscribe(ctx, filter); err != nil {
		ginkgo.Fail(fmt.Sprintf("%s: the round trip that proves the broker has caught up (UNSUBSCRIBE %s, awaiting UNSUBACK) failed: %v", c.Name, filter, err))
	}
}

// Sync is Client.Sync for a 5.0 client: an UNSUBSCRIBE of a filter it
// never subscribed to, answered (UNSUBACK 0x11, no subscription existed)
// only after everything ahead of it on the connection [MQTT-3.10.4-5].
func (c *Client5) Sync(ctx context.Context) {
	ginkgo.GinkgoHelper()
	filter := c.spec.Topic("sync/" + c.Name)
	if _, err := c.Unsubscribe(ctx, nil, filter); err != nil {
		ginkgo.Fail(fmt.Sprintf("%s: the round trip that proves the broker has caught up (UNSUBSCRIBE %s, awaiting UNSUBACK) failed: %v", c.Name, filter, err))
	}
}
