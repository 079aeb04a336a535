package liveplugin_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/amlive/amlive/internal/chrometest"
	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/natscluster"
)

// TestBrowserCluster goes live from the broadcast page of node A and
// watches on node B's watch page, in Chromium: B's viewer plays live
// through the cluster, then, after Stop, the recording, which B serves
// from the Dir the nodes share.
func TestBrowserCluster(t *testing.T) {
	ns := startNATS(t)
	dir := t.TempDir()
	var srvs []*browserServer
	for _, name := range []string{"nodeA", "nodeB"} {
		nc, err := nats.Connect(ns.ClientURL(), nats.Name(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close) // after the plugin's Close
		c, err := natscluster.New(nc, natscluster.Options{Name: name, Heartbeat: clusterHeartbeat, RoomTTL: clusterTTL})
		if err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, newBrowserServerWith(t, liveplugin.Config{Authorize: browserAllowAll, Dir: dir, Cluster: c}))
	}
	a, b := srvs[0], srvs[1]
	br := chrometest.New(t)

	pub := openBroadcaster(t, br, a)
	viewer := openViewer(t, br, b, "viewer on node B")
	viewer.WaitFor(chrometest.PlayerIn("document", "live"), browserLiveTimeout)
	viewer.WaitFor(jsLivePlaying, browserLiveTimeout)
	chrometest.AssertPlays(t, browserLiveTimeout, false, []*chrometest.Tab{viewer}, "live")
	pub.WaitFor(chrometest.BroadcasterJS+`.amliveBroadcaster.viewers === 1`, browserLiveTimeout)

	stopBroadcast(t, pub)
	viewer.WaitFor(chrometest.PlayerIn("document", "ended", "recording"), browserLiveTimeout)
	viewer.WaitFor(jsRecordingPlaying, browserLiveTimeout)
	for _, s := range chrometest.AssertPlays(t, browserLiveTimeout, true, []*chrometest.Tab{viewer}, "ended", "recording") {
		if !strings.HasPrefix(s.Src, b.url+"/live/"+browserRoom+"/playback") {
			t.Errorf("after the end: video src %q; want node B's /playback", s.Src)
		}
	}
	chrometest.CheckNoPageErrors(t, pub, viewer)
}
