package node

import (
	"strings"
	"testing"
)

const brCA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

func TestParseBottlerocketUserData(t *testing.T) {
	b, err := ParseUserDataFor("Bottlerocket", []byte(`
[settings.kubernetes]
cluster-name = "demo"
api-server = "https://example.com"
cluster-certificate = "`+brCA+`"
max-pods = 30
[settings.kubernetes.node-labels]
team = "blue"
[settings.kubernetes.node-taints]
dedicated = ["blue:NoSchedule", "blue:NoExecute"]
gpu = ":NoSchedule"
[settings.kubernetes.kube-reserved]
cpu = "100m"
[settings.kubernetes.eviction-hard]
"memory.available" = "5%"
[settings.host-containers.admin]
enabled = true
`))
	if err != nil {
		t.Fatal(err)
	}
	cpu := b.KubeReserved["cpu"]
	if b.ClusterName != "demo" || b.APIServerEndpoint != "https://example.com" || !strings.Contains(string(b.ClusterCA), "BEGIN CERTIFICATE") ||
		b.MaxPods != 30 || b.Labels["team"] != "blue" || len(b.Taints) != 3 || cpu.MilliValue() != 100 || b.EvictionHard["memory.available"] != "5%" {
		t.Errorf("bootstrap = %+v", b)
	}
	base := "[settings.kubernetes]\ncluster-name = \"demo\"\napi-server = \"https://e\"\ncluster-certificate = \"" + brCA + "\"\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"not toml":        {"#!/bin/bash\n/etc/eks/bootstrap.sh demo\n", "not TOML"},
		"no api server":   {"[settings.kubernetes]\ncluster-name = \"demo\"\n", "api-server is missing"},
		"bad ca":          {strings.Replace(base, brCA, "!!", 1), "cluster-certificate"},
		"node-role label": {base + "[settings.kubernetes.node-labels]\n\"node-role.kubernetes.io/x\" = \"\"\n", "node-role.kubernetes.io/x"},
		"bad effect":      {base + "[settings.kubernetes.node-taints]\na = \"b:Sometimes\"\n", "Sometimes"},
		"taint not text":  {base + "[settings.kubernetes.node-taints]\na = 3\n", "node-taints.a"},
		"zero max pods":   {base + "max-pods = 0\n", "max-pods"},
		"bad reserved":    {base + "[settings.kubernetes.system-reserved]\nmemory = \"lots\"\n", "system-reserved.memory"},
		"unknown family":  {base, "unknown AMI family"},
	} {
		family := "Bottlerocket"
		if name == "unknown family" {
			family = "Windows"
		}
		if _, err := ParseUserDataFor(family, []byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

func TestDataVolumeGiB(t *testing.T) {
	vols := []Volume{{"/dev/xvda", 4}, {"/dev/xvdb", 100}, {"/dev/sda1", 30}}
	for family, want := range map[string]int64{"Bottlerocket": 100, "AL2": 4, "": 4, "Ubuntu": 30} {
		if got := (Instance{AMIFamily: family, Volumes: vols}).DataVolumeGiB(); got != want {
			t.Errorf("%s: %d GiB, want %d", family, got, want)
		}
	}
	if got := (Instance{}).DataVolumeGiB(); got != EphemeralStorageGiB {
		t.Errorf("no volumes: %d", got)
	}
	if got := (Instance{AMIFamily: "AL2", Volumes: []Volume{{"/dev/xvda", 0}}}).DataVolumeGiB(); got != EphemeralStorageGiB {
		t.Errorf("snapshot-only root: %d", got)
	}
}
