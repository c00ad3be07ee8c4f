package simulate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// zonalVolume is a 20Gi EBS volume in zone, bound to the claim shop/data (which names it).
const zonalVolume = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: PersistentVolume
    metadata: {name: pv-data}
    spec:
      capacity: {storage: 20Gi}
      accessModes: [ReadWriteOnce]
      storageClassName: gp3
      csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0123}
      nodeAffinity:
        required:
          nodeSelectorTerms:
            - matchExpressions:
                - {key: topology.ebs.csi.aws.com/zone, operator: In, values: [ZONE]}
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data, namespace: shop}
    spec:
      storageClassName: gp3
      volumeName: pv-data
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 20Gi}}
`

// mountData mounts the claim data in every pod of a deployment() manifest.
func mountData(manifest string) string {
	return strings.Replace(manifest, "      containers:\n", "      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n      containers:\n", 1)
}

// zones returns the zones of the plan's new nodes, with their counts.
func zones(p *simulate.Plan) map[string]int {
	out := map[string]int{}
	for _, g := range p.NewNodes {
		out[g.Zone] += g.Count
	}
	return out
}

// A Deployment whose pods mount a claim bound to a zonal volume gets its nodes in the volume's
// zone, whether the volume and claim come with -f or in a --nodes dump; without them the pods
// are unschedulable, saying which claim is missing.
func TestBoundZonalVolumePutsTheNodesInItsZone(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	web := write(t, "web.yaml", mountData(deployment("web", 2, "1", "1Gi")))
	for _, zone := range []string{"us-east-1a", "us-east-1b"} {
		vol := write(t, "volume.yaml", strings.Replace(zonalVolume, "ZONE", zone, 1))
		for _, flag := range []string{"-f", "--nodes"} {
			p, _ := plan(t, "-f", web, "-f", prov, flag, vol)
			if z := zones(p); p.Summary.PlacedOnNewNodes != 2 || len(z) != 1 || z[zone] == 0 {
				t.Errorf("volume in %s (%s): new nodes by zone %v, summary %+v, unschedulable %+v", zone, flag, z, p.Summary, p.Unschedulable)
			}
		}
	}
	p, _ := plan(t, "-f", web, "-f", prov)
	if p.Summary.Unschedulable != 2 || !strings.Contains(p.Unschedulable[0].Reason, `PersistentVolumeClaim "data" not found`) {
		t.Fatalf("without the claim: %+v", p.Unschedulable)
	}
}

// wffcClass provisions EBS volumes in us-east-1b only (tests replace the zone), binding when a
// pod is scheduled.
const wffcClass = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
  - matchLabelExpressions:
      - {key: topology.ebs.csi.aws.com/zone, values: [us-east-1b]}
`

const database = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: postgres
          resources: {requests: {cpu: "1", memory: 2Gi}}
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
  volumeClaimTemplates:
    - metadata: {name: data, labels: {tier: storage}}
      spec:
        storageClassName: zonal
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 50Gi}}
`

// A StatefulSet's volumeClaimTemplates become one claim per replica, named as the StatefulSet
// controller names them; a WaitForFirstConsumer class allowed in one zone puts every replica's
// node there.
func TestStatefulSetClaimsFollowTheirClass(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	db := write(t, "db.yaml", database)
	class := write(t, "class.yaml", wffcClass)

	w, err := simulate.Read(context.Background(), []string{db, class}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"data-db-0", "data-db-1", "data-db-2"} {
		pvc := w.Volumes.PVCs["shop/"+name]
		if pvc == nil || pvc.Labels["tier"] != "storage" || pvc.Labels["app"] != "db" || *pvc.Spec.StorageClassName != "zonal" {
			t.Fatalf("claim %s: %+v (claims %v)", name, pvc, w.Volumes.PVCs)
		}
		if v := w.Pods[i].Spec.Volumes; len(v) != 1 || v[0].Name != "data" || v[0].PersistentVolumeClaim.ClaimName != name {
			t.Fatalf("pod %s volumes %+v, want claim %s", w.Pods[i].Name, v, name)
		}
	}

	// Two zones, so that at least one differs from the zone the plan picks without volumes.
	for _, zone := range []string{"us-east-1a", "us-east-1c"} {
		p, _ := plan(t, "-f", db, "-f", write(t, "class.yaml", strings.Replace(wffcClass, "us-east-1b", zone, 1)), "-f", prov)
		if z := zones(p); p.Summary.PlacedOnNewNodes != 3 || len(z) != 1 || z[zone] == 0 {
			t.Errorf("class allowed in %s: new nodes by zone %v, summary %+v, unschedulable %+v", zone, z, p.Summary, p.Unschedulable)
		}
	}
	// Allowed in a zone no instance type is offered in: unschedulable, saying why.
	p, _ := plan(t, "-f", db, "-f", write(t, "class.yaml", strings.Replace(wffcClass, "us-east-1b", "eu-west-1a", 1)), "-f", prov)
	if p.Summary.Unschedulable != 3 || !strings.Contains(p.Unschedulable[0].Reason, "topology.kubernetes.io/zone In [eu-west-1a]") {
		t.Fatalf("class in no known zone: %+v", p.Unschedulable)
	}
}

// What the cluster's controllers add before scheduling: the default class on a claim without
// one, a claim per generic ephemeral volume owned by its pod, and static binding of an
// Immediate claim to the smallest matching volume (here in us-east-1c).
func TestClaimsAreCompletedAsTheClusterWould(t *testing.T) {
	in := `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: gp3
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cache, namespace: shop}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: archive, namespace: shop}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: big, labels: {topology.kubernetes.io/zone: us-east-1a}}
spec: {storageClassName: manual, capacity: {storage: 100Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /big}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: small, labels: {topology.kubernetes.io/zone: us-east-1c}}
spec: {storageClassName: manual, capacity: {storage: 10Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /small}}
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: shop}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
  volumes:
    - name: scratch
      ephemeral:
        volumeClaimTemplate:
          metadata: {labels: {kind: scratch}}
          spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
    - {name: cache, persistentVolumeClaim: {claimName: cache}}
    - {name: archive, persistentVolumeClaim: {claimName: archive}}
`
	file := write(t, "w.yaml", in)
	w, err := simulate.Read(context.Background(), []string{file}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Volumes.PVCs["shop/cache"]; c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != "gp3" {
		t.Errorf("cache: class %v, want the default gp3", c.Spec.StorageClassName)
	}
	if c := w.Volumes.PVCs["shop/archive"]; c.Spec.VolumeName != "small" || w.Volumes.PVs["small"].Spec.ClaimRef.Name != "archive" {
		t.Errorf("archive bound to %q, want the smallest matching volume small", c.Spec.VolumeName)
	}
	scratch := w.Volumes.PVCs["shop/worker-scratch"]
	if scratch == nil || scratch.Labels["kind"] != "scratch" || len(scratch.OwnerReferences) != 1 || scratch.OwnerReferences[0].UID != w.Pods[0].UID || w.Pods[0].UID == "" {
		t.Fatalf("ephemeral claim %+v for pod UID %q", scratch, w.Pods[0].UID)
	}
	p, _ := plan(t, "-f", file, "-f", write(t, "p.yaml", defaultProvisioner))
	if z := zones(p); p.Summary.PlacedOnNewNodes != 1 || z["us-east-1c"] != 1 {
		t.Fatalf("new nodes by zone %v, unschedulable %+v", z, p.Unschedulable)
	}
}

// Bad storage objects are refused with their field paths, like other objects.
func TestBadStorageObjects(t *testing.T) {
	in := `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: nothing}
spec: {}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec: {capacity: {storage: lots}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: sc}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: x}]
  volumeClaimTemplates:
    - spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: "0"}}}
`
	got := errorLines(t, "-f", write(t, "s.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got,
		"s.yaml:4: spec.accessModes: Required value: at least 1 access mode is required",
		"s.yaml:4: spec.resources.requests.storage: Required value",
		"s.yaml:9: spec.capacity.storage: quantities must match",
		"s.yaml:9: spec.accessModes: Required value",
		"s.yaml:11: provisioner: Required value",
		"s.yaml:25: spec.volumeClaimTemplates[0].metadata.name: Required value",
		"s.yaml:25: spec.volumeClaimTemplates[0].spec.resources.requests.storage: Invalid value: \"0\": must be greater than zero",
	)
}
