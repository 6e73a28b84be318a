package conformance5

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy/wire"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

// The will in MQTT 5.0: DISCONNECT's reason code decides whether it is
// sent, and the Will Delay Interval and the session's end decide when.
var _ = Describe("MQTT 5.0 will", Label("will"), func() {
	f := New()

	// arrival waits for the will with payload at watcher and returns when
	// it came.
	arrival := func(ctx SpecContext, watcher *Client5, payload string, within time.Duration) Message5 {
		GinkgoHelper()
		Eventually(watcher.Payloads).WithContext(ctx).WithTimeout(within).Should(ContainElement(payload), "the will %q was not published within %v", payload, within)
		m, _ := watcher.Message(payload)
		return m
	}

	ConformanceIt("publishes the will on DISCONNECT 0x04 and discards it on DISCONNECT 0x00",
		Statements5("MQTT-3.14.4-3", "MQTT-3.1.2-8", "MQTT-3.1.2-10"), Catches("v5-disconnect-reason-swapped"), func(ctx SpecContext) {
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			normal := f.Client5(ctx, "normal", Will5(f.Topic("normal"), "will-discarded", 1, false))
			withWill := f.Client5(ctx, "with-will", Will5(f.Topic("with-will"), "will-sent", 1, false))

			Expect(normal.Disconnect(0x00)).To(Succeed())
			Expect(withWill.Disconnect(0x04)).To(Succeed())

			arrival(ctx, watcher, "will-sent", 5*time.Second)
			Consistently(watcher.Payloads).WithContext(ctx).ShouldNot(ContainElement("will-discarded"), "the broker published the will of a client that ended with DISCONNECT 0x00")
		})

	// Brokers count the delay in whole seconds: "not before" allows one.
	ConformanceIt("publishes the will only after its Will Delay Interval",
		Statements5("MQTT-3.1.2-8"), Catches("v5-will-delay-dropped"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			const delay = 3 * time.Second
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			c := f.Client5(ctx, "c", SessionExpiry(30), Will5(f.Topic("will"), "delayed", 1, false,
				Prop(wire.PropWillDelayInterval, uint32(delay/time.Second))))

			c.Drop()
			lost := time.Now()

			m := arrival(ctx, watcher, "delayed", delay+4*time.Second)
			after := m.At.Sub(lost)
			Expect(after).To(BeNumerically(">=", delay-time.Second), "the will came %v after the connection was lost, before its Will Delay Interval of %v", after.Round(time.Millisecond), delay)
		})

	ConformanceIt("publishes the will with its Content Type and its User Properties in order",
		Statements5("MQTT-3.1.3-10", "MQTT-3.3.2-20"), Catches("v5-will-properties-dropped"), func(ctx SpecContext) {
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			c := f.Client5(ctx, "c", Will5(f.Topic("will"), "with-properties", 1, false,
				Prop(wire.PropContentType, "text/x-faultline"), UserProp("first", "1"), UserProp("second", "2"), UserProp("first", "3")))

			c.Drop()

			m := arrival(ctx, watcher, "with-properties", 5*time.Second)
			Expect(m.Props.User()).To(Equal([][2]string{{"first", "1"}, {"second", "2"}, {"first", "3"}}),
				"the will's User Properties were not forwarded unchanged and in order [MQTT-3.1.3-10]")
			ct, _ := m.Props.Str(wire.PropContentType)
			Expect(ct).To(Equal("text/x-faultline"), "the will's Content Type was not forwarded unchanged [MQTT-3.3.2-20]")
		})

	ConformanceIt("does not publish the will when the client resumes its session within the Will Delay Interval",
		Statements5("MQTT-3.1.3-9"), Catches("v5-will-delay-dropped"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			const delay = 3 * time.Second
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			c := f.Client5(ctx, "c", SessionExpiry(30), Will5(f.Topic("will"), "cancelled", 1, false,
				Prop(wire.PropWillDelayInterval, uint32(delay/time.Second))))

			c.Drop()
			Elapse(ctx, delay/6) // the client comes back half a second later
			_, err := c.Connect(ctx, CleanStart(false))
			Expect(err).NotTo(HaveOccurred())

			Elapse(ctx, delay+2*time.Second)
			Expect(watcher.Payloads()).NotTo(ContainElement("cancelled"), "the broker published the will although the client resumed its session within the Will Delay Interval")
			Expect(c.Disconnect(0x00)).To(Succeed())
		})

	ConformanceIt("publishes the will when the session ends, if that comes before the Will Delay Interval",
		Statements5("MQTT-3.1.2-8"), Catches("v5-session-never-expires"), SpecTimeout(30*time.Second), func(ctx SpecContext) {
			const expiry = 2 * time.Second
			watcher := f.Client5(ctx, "watcher")
			watcher.MustSubscribe(ctx, f.Topic("#"), 1, 0)
			c := f.Client5(ctx, "c", SessionExpiry(uint32(expiry/time.Second)), Will5(f.Topic("will"), "session-ended", 1, false,
				Prop(wire.PropWillDelayInterval, uint32(60))))

			c.Drop()
			lost := time.Now()

			m := arrival(ctx, watcher, "session-ended", expiry+4*time.Second)
			after := m.At.Sub(lost)
			Expect(after).To(BeNumerically(">=", expiry-time.Second), "the will came %v after the connection was lost, before the session's expiry of %v (Will Delay Interval 60 s)", after.Round(time.Millisecond), expiry)
		})
})
