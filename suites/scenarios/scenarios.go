package scenarios

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline-mqtt/faultline/proxy"
	. "github.com/faultline-mqtt/faultline/suites/framework"
)

var _ = Describe("Connectivity scenarios", Label("scenarios"), func() {
	f := New()

	f.ScenarioIt("lost-before-publish",
		"the link drops just before a sensor publishes its telemetry: the QoS 1 reading still arrives once the link is back",
		Statements("MQTT-4.4.0-1", "MQTT-4.3.2-2"), Catches("drop-retransmitted-publish", "lose-publish-on-disconnect"),
		func(s SpecContextStory) {
			topic := f.Topic("sensors/1/temperature/a")
			dashboard := f.Subscriber(s, "dashboard", topic, 1, Persistent(), AutoReconnect())
			sensor := f.Client(s, "sensor", Persistent(), AutoReconnect())

			Expect(sensor.Link.Down()).To(Succeed())
			s.Say("The sensor's link went down (connections refused) before it published.")
			sensor.PublishAsync(topic, 0, false, "21.5C-qos0")
			reading := sensor.PublishAsync(topic, 1, false, "21.6C-qos1")
			s.Say("While it was down, the sensor published one reading at QoS 0 and one at QoS 1.")
			Eventually(sensor.Connected).WithContext(s).Should(BeFalse())
			Expect(sensor.Link.Restore()).To(Succeed())
			restored := time.Now()

			Expect(reading.Wait(s)).To(Succeed(), "the QoS 1 reading was never acknowledged")
			f.Drain(s, dashboard, "21.6C-qos1")

			arrived := arrivals(dashboard, "21.6C-qos1")
			s.Say("The link came back; the sensor reconnected %d time(s) in all.", sensor.Connections())
			if n := dashboard.Count("21.5C-qos0"); n == 0 {
				s.Say("The QoS 0 reading never arrived: QoS 0 is 'at most once'. The client had no connection when it was published, so it dropped it; nothing asked for an acknowledgement.")
			} else {
				s.Say("The QoS 0 reading arrived %d time(s): the client happened to keep it; QoS 0 promises nothing more than at most once.", n)
			}
			if len(arrived) > 0 {
				s.Say("The QoS 1 reading arrived %s, %v after the link came back: the client kept it in its session, re-sent it after reconnecting (DUP=%v), and the broker acknowledged it with PUBACK and forwarded it.",
					times(len(arrived)), arrived[0].At.Sub(restored).Round(time.Millisecond), sensorResentWithDup(sensor))
			} else {
				s.Say("The QoS 1 reading never reached the dashboard, although the broker acknowledged it: that breaks 'at least once'.")
			}
			Expect(f.Verdict()).To(Hold())
		})

	f.ScenarioIt("lost-before-forward",
		"the link drops just before the broker forwards telemetry to the subscriber: a persistent QoS 1 subscriber still gets it, a clean-session one does not",
		Statements("MQTT-4.4.0-1", "MQTT-3.1.2-5", "MQTT-3.1.2-6", "MQTT-3.2.2-1"), Catches("no-redelivery", "keep-clean-sessions"),
		func(s SpecContextStory) {
			topic := f.Topic("sensors/1/temperature/a")
			persistent := f.Subscriber(s, "persistent", topic, 1, Persistent(), AutoReconnect())
			clean := f.Subscriber(s, "clean", topic, 1, AutoReconnect())
			sensor := f.Client(s, "sensor")
			cuts := []*proxy.Fault{
				persistent.Link.CutBefore(proxy.FromBroker, proxy.PUBLISH),
				clean.Link.CutBefore(proxy.FromBroker, proxy.PUBLISH),
			}
			s.Say("Two dashboards subscribed at QoS 1: one with a persistent session (CleanSession=0), one with a clean session.")

			Expect(sensor.Publish(s, topic, 1, "22.0C")).To(Succeed())
			for _, c := range cuts {
				Eventually(c).WithContext(s).Should(HaveFired())
			}
			s.Say("The sensor published a QoS 1 reading; each dashboard's link dropped just as the broker sent it the PUBLISH, so neither got it then.")
			Eventually(persistent.Connections).WithContext(s).Should(Equal(2))
			Eventually(clean.Connections).WithContext(s).Should(Equal(2))
			f.Drain(s, persistent, "22.0C")
			f.Drain(s, clean)

			s.Say("Both reconnected. The persistent dashboard's CONNACK said session present = %v; the clean one's said %v.", persistent.SessionPresent(), clean.SessionPresent())
			if n := persistent.Count("22.0C"); n > 0 {
				s.Say("The persistent dashboard got the reading %s after reconnecting: the broker kept the unacknowledged message in its session and re-sent it [MQTT-4.4.0-1].", times(n))
			} else {
				s.Say("The persistent dashboard never got the reading: the broker did not re-send the unacknowledged message when the session resumed.")
			}
			if n := clean.Count("22.0C"); n == 0 {
				s.Say("The clean-session dashboard never got it: its session ended with the connection, and the new session has no subscription until it subscribes again [MQTT-3.1.2-6].")
			} else {
				s.Say("The clean-session dashboard got it %s in its new session: the broker kept a session it had to discard.", times(n))
			}
			Expect(clean.SessionPresent()).To(BeFalse(), "the clean-session dashboard's new connection must start a new session: CONNACK session present 0 [MQTT-3.2.2-1]")
			Expect(f.Verdict()).To(Hold())
		})

	f.ScenarioIt("latest-value",
		"a dashboard that subscribes late gets the most recent telemetry at once: the broker holds the retained last value",
		Statements("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8", "MQTT-3.3.1-9"), Catches("retained-first-only"),
		func(s SpecContextStory) {
			topic := f.Topic("sensors/2/temperature/b")
			sensor := f.Client(s, "sensor")
			for _, r := range []string{"19.0C", "19.5C", "20.1C"} {
				Expect(sensor.PublishRetained(s, topic, 1, r)).To(Succeed())
			}
			s.Say("The sensor published three readings with RETAIN=1: 19.0C, 19.5C, then 20.1C.")

			dashboard := f.Subscriber(s, "dashboard", topic, 1)
			Eventually(dashboard.Payloads).WithContext(s).Should(ContainElement("20.1C"), "the retained last value never came")
			Expect(sensor.Publish(s, topic, 1, "20.3C")).To(Succeed())
			Eventually(dashboard.Payloads).WithContext(s).Should(ContainElement("20.3C"))

			got := dashboard.Received()
			s.Say("A dashboard subscribed afterwards and received, in order: %s.", describe(got))
			Expect(got[0].Payload).To(Equal("20.1C"), "the first message must be the latest retained reading")
			Expect(got[0].Retain).To(BeTrue(), "a retained message sent because of a new subscription carries RETAIN=1 [MQTT-3.3.1-8]")
			Expect(dashboard.Payloads()).NotTo(ContainElement(BeElementOf("19.0C", "19.5C")), "older retained readings were replaced [MQTT-3.3.1-5]")
			live := got[len(got)-1]
			Expect(live.Retain).To(BeFalse(), "a live message to an established subscription carries RETAIN=0 [MQTT-3.3.1-9]")
			s.Say("The broker kept only the latest retained reading per topic and sent it at once with RETAIN=1; the next live reading came with RETAIN=0, because it went to a subscription that already existed.")
		})

	f.ScenarioIt("command-after-offline",
		"a device that was offline gets every command sent meanwhile, the most recent last: persistent session and QoS 1",
		Statements("MQTT-3.1.2-5", "MQTT-4.6.0-6"), Catches("no-offline-queue", "out-of-order"),
		func(s SpecContextStory) {
			commands := f.Topic("devices/7/commands")
			device := f.Subscriber(s, "device", commands, 1, Persistent())
			controller := f.Client(s, "controller")
			device.Disconnect()
			s.Say("The device subscribed to its command topic at QoS 1 with a persistent session, then went offline.")

			var sent []string
			for t := 15; t <= 24; t++ {
				sent = append(sent, fmt.Sprintf("setpoint=%d", t))
			}
			for _, c := range sent {
				Expect(controller.Publish(s, commands, 1, c)).To(Succeed())
			}
			s.Say("While it was away the controller sent %s; the broker acknowledged each.", strings.Join(sent, ", "))
			controller.Sync(s) // the broker has routed them all before the device comes back

			Expect(device.Connect(s)).To(Succeed())
			f.Drain(s, device, sent...)
			got := device.Payloads()
			s.Say("The device came back: session present = %v, and it received %s.", device.SessionPresent(), describe(device.Received()))
			switch {
			case len(got) == 0:
				s.Say("Nothing arrived: the broker did not keep the QoS 1 messages queued in the device's persistent session.")
			case got[len(got)-1] == sent[len(sent)-1]:
				s.Say("The last command it received, the one it would apply, is the most recent one (%s).", sent[len(sent)-1])
			default:
				s.Say("The last command it received is %s, not the most recent %s: the broker delivered the queued commands out of order, so the device would apply a stale setting.", got[len(got)-1], sent[len(sent)-1])
			}
			Expect(f.Verdict()).To(Hold())
			s.Say("The broker queued the QoS 1 commands in the device's session and delivered them all when it resumed, in the order they were sent.")
		})
})

func arrivals(c *Client, payload string) []Message {
	var out []Message
	for _, m := range c.Received() {
		if m.Payload == payload {
			out = append(out, m)
		}
	}
	return out
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func describe(ms []Message) string {
	if len(ms) == 0 {
		return "nothing"
	}
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s (QoS %d, RETAIN=%d, DUP=%d)", m.Payload, m.QoS, b(m.Retain), b(m.Dup)))
	}
	return strings.Join(parts, ", ")
}

func b(v bool) int {
	if v {
		return 1
	}
	return 0
}

// sensorResentWithDup says whether the sensor's link carried a PUBLISH
// with DUP=1: the re-sent reading.
func sensorResentWithDup(c *Client) bool {
	for _, p := range c.Link.Trace().Packets(proxy.ToBroker) {
		if proxy.PUBLISH.Dup().Matches(p) {
			return true
		}
	}
	return false
}
