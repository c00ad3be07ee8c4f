package v1alpha5

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubeletapis "k8s.io/kubelet/pkg/apis"
)

// Bounds of the Provisioner's durations. Both are 100 years of 365 days: far beyond any useful
// TTL, and far below the 2^63 ns (about 292 years) a time.Duration holds, so seconds times 10^9
// and a timestamp plus the bound never overflow. The CRD's OpenAPI maximum and CEL rule and the
// Terraform provider's validators enforce the same numbers.
const (
	// MaxTTLSeconds bounds ttlSecondsAfterEmpty and ttlSecondsUntilExpired (seconds).
	MaxTTLSeconds int64 = 100 * 365 * 24 * 60 * 60
	// MaxTerminationGracePeriod bounds terminationGracePeriod.
	MaxTerminationGracePeriod = 100 * 365 * 24 * time.Hour
)

// Patterns and sets of the kubelet configuration's values, shared by the CRD's CEL rules (the
// same text; crd_test.go checks the generated CRD holds it) and the Terraform provider's
// validators.
const (
	// EvictionThresholdPattern is a percentage 0-100% (two decimals at most) or a
	// non-negative quantity.
	EvictionThresholdPattern = `^(([0-9]{1,2}([.][0-9]{1,2})?|100([.]0{1,2})?)%|[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$`
	// ReservedQuantityPattern is a non-negative quantity (systemReserved, kubeReserved).
	ReservedQuantityPattern = `^[0-9]+([.][0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`
	// DurationPattern is hours, minutes and seconds (48h, 1h30m, 90s): the kubelet's eviction
	// grace periods.
	DurationPattern = `^([0-9]+(s|m|h))+$`
	// TerminationGracePeriodPattern is hours, minutes and seconds in that order, each at most
	// once (48h, 1h30m, 90s; the form metav1.Duration writes), with at most 6, 7 and 9 digits:
	// at most 999999h + 9999999m + 999999999s (about 1.44 million hours), so the CRD's CEL
	// duration() never overflows a time.Duration (2^63 ns, about 2.56 million hours) and the
	// rule bounding it at 876000h always evaluates.
	TerminationGracePeriodPattern = `^([0-9]{1,6}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?$`
)

// Int64Pattern matches the decimal integers strconv.ParseInt(s, 10, 64) accepts without a '+'
// sign: -9223372036854775808 to 9223372036854775807, leading zeros allowed. Kubernetes takes a
// node selector's Gt/Lt value that way (k8s.io/component-helpers nodeaffinity), and so does the
// controller: a value outside int64 would skip the provisioner at every launch. A regular
// expression, not a conversion, so that the CRD's CEL rule (the same text; crd_test.go checks
// the generated CRD holds it) never fails to evaluate.
const Int64Pattern = `^(-?0*([0-9]{1,18}|[0-8][0-9]{18}|9[0-1][0-9]{17}|92[0-1][0-9]{16}|922[0-2][0-9]{15}|9223[0-2][0-9]{14}|92233[0-6][0-9]{13}|922337[0-1][0-9]{12}|92233720[0-2][0-9]{10}|922337203[0-5][0-9]{9}|9223372036[0-7][0-9]{8}|92233720368[0-4][0-9]{7}|922337203685[0-3][0-9]{6}|9223372036854[0-6][0-9]{5}|92233720368547[0-6][0-9]{4}|922337203685477[0-4][0-9]{3}|9223372036854775[0-7][0-9]{2}|922337203685477580[0-6]|9223372036854775807)|-0*9223372036854775808)$`

// GtLtValuesMessage is why the values of a Gt or Lt requirement are refused (the CRD's words).
const GtLtValuesMessage = "operators Gt and Lt need exactly one integer value, from -9223372036854775808 to 9223372036854775807 (64 bits)"

var int64RE = regexp.MustCompile(Int64Pattern)

// ValidGtLtValues reports whether values are those of a Gt or Lt requirement: exactly one
// integer matching Int64Pattern.
func ValidGtLtValues(values []string) bool {
	return len(values) == 1 && int64RE.MatchString(values[0])
}

// MaxLimitResources bounds the resources spec.limits.resources may list (the CRD's
// maxProperties; the Terraform provider's limits block allows as many, cpu and memory included).
const MaxLimitResources = 64

// EvictionSignals are the kubelet's eviction signals a Provisioner may set thresholds for
// (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/).
var EvictionSignals = []string{"memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree", "pid.available"}

// ReservedResources are the resources systemReserved and kubeReserved may reserve.
var ReservedResources = []string{"cpu", "memory", "ephemeral-storage", "pid"}

// TTL converts a TTL in seconds to a duration, clamped to [0, MaxTTLSeconds] so that a value
// stored before the CRD bounded it cannot overflow into a negative duration (which would
// remove every node of the provisioner at once). ok is false when seconds is nil (never).
func TTL(seconds *int64) (d time.Duration, ok bool) {
	if seconds == nil {
		return 0, false
	}
	s := min(max(*seconds, 0), MaxTTLSeconds)
	return time.Duration(s) * time.Second, true
}

// AWSLabelDomain is the domain of the instance labels the controller gives a node from its
// instance type (karpenter.k8s.aws/instance-family etc.).
const AWSLabelDomain = "karpenter.k8s.aws"

// RestrictedLabelDomains are the label domains (and their subdomains) a Provisioner may use
// only for the keys ValidateLabelKey allows: Kubernetes' own (kubernetes.io, k8s.io), whose
// labels a kubelet may self-assign only from an allowed set, and the controller's
// (karpenter.sh, karpenter.k8s.aws).
var RestrictedLabelDomains = []string{"kubernetes.io", "k8s.io", Group, AWSLabelDomain}

// Bounds of spec.provider.tags (EC2 User Guide, "Tag restrictions": at most 50 tags per
// resource, keys of 1 to 128 and values of at most 256 Unicode characters). The CRD and the
// Terraform provider enforce the same numbers; a longer key otherwise fails the launch (EC2
// answers CreateLaunchTemplate with a misleading authorization error).
const (
	MaxTags           = 50
	MaxTagKeyLength   = 128
	MaxTagValueLength = 256
)

// ReservedTagKeys are the tag keys the controller writes itself on every instance, volume and
// launch template (its values win, so a Provisioner's would be silently dropped); tags starting
// with TagClusterOwnedPrefix are reserved too (Karpenter v0.31 refused them: they mark a
// cluster's resources for its cloud controller). Name is not reserved: it may be given.
var ReservedTagKeys = []string{TagCluster, TagManagedBy, TagNodeClaim, TagProvisionerName}

// ValidateTagKey returns the reasons key may not be a tag of spec.provider.tags, or nil: EC2's
// length bounds (1 to MaxTagKeyLength characters), its reserved aws: prefix (in any case),
// and ReservedTagKeys and TagClusterOwnedPrefix. The CRD's CEL rules say the same, in the same
// words.
func ValidateTagKey(key string) []string {
	var errs []string
	if n := utf8.RuneCountInString(key); n < 1 || n > MaxTagKeyLength {
		errs = append(errs, TagKeyLengthMessage)
	}
	if strings.HasPrefix(strings.ToLower(key), "aws:") {
		errs = append(errs, TagKeyAWSMessage)
	}
	if slices.Contains(ReservedTagKeys, key) || strings.HasPrefix(key, TagClusterOwnedPrefix) {
		errs = append(errs, TagKeyReservedMessage)
	}
	return errs
}

// LaunchTags returns the tags of an EC2 resource the controller launches for Provisioner
// provisioner, as Karpenter v0.31 builds them: the overridable default
// Name = "karpenter.sh/provisioner-name/<provisioner>" (TagName), overlaid with defaultTags
// (the controller's --default-tags, the provider's default_tags), then with tags (the
// Provisioner's spec.provider.tags), so that a Name in either wins over the default; then the
// static tags, which always win: karpenter.sh/cluster = cluster, karpenter.sh/managed-by =
// karpenter, karpenter.sh/provisioner-name = provisioner, and karpenter.sh/nodeclaim = claim
// when claim is not "" (instances, volumes, network interfaces and fleets; launch templates
// are shared by claims and carry none). The result is a new map; the inputs are not changed.
func LaunchTags(cluster, provisioner, claim string, defaultTags, tags map[string]string) map[string]string {
	m := make(map[string]string, len(defaultTags)+len(tags)+5)
	m[TagName] = TagProvisionerName + "/" + provisioner
	for k, v := range defaultTags {
		m[k] = v
	}
	for k, v := range tags {
		m[k] = v
	}
	m[TagCluster] = cluster
	m[TagManagedBy] = "karpenter"
	m[TagProvisionerName] = provisioner
	if claim != "" {
		m[TagNodeClaim] = claim
	}
	return m
}

// ValidateLaunchTagCount returns why an instance launched with defaultTags (the controller's
// --default-tags, the provider's default_tags) and a Provisioner's tags would carry more
// than MaxTags tags, which EC2 refuses, or "": their union with Name and the ReservedTagKeys
// (LaunchTags of a NodeClaim) is counted.
func ValidateLaunchTagCount(defaultTags, tags map[string]string) string {
	n := len(LaunchTags("c", "p", "n", defaultTags, tags))
	if n <= MaxTags {
		return ""
	}
	return fmt.Sprintf("launched instances would carry %d tags: the union of the %d default tags (the controller's DEFAULT_TAGS, "+
		"the provider's default_tags), the Provisioner's %d tags, %s and the tags the controller sets itself (%s); EC2 allows at "+
		"most %d tags per resource: remove %d", n, len(defaultTags), len(tags), TagName, strings.Join(ReservedTagKeys, ", "), MaxTags, n-MaxTags)
}

// The reasons of ValidateTagKey and ValidateClusterDNS, as the CRD's rules word them.
const (
	TagKeyLengthMessage   = "tag keys must be 1 to 128 characters (EC2's limit)"
	TagKeyAWSMessage      = "the aws: prefix of tag keys is reserved for AWS"
	TagKeyReservedMessage = "reserved tag key: the controller sets karpenter.sh/cluster, karpenter.sh/managed-by, karpenter.sh/nodeclaim and karpenter.sh/provisioner-name itself, and kubernetes.io/cluster/* marks a cluster's resources"
	ClusterDNSMessage     = "clusterDNS entries must be IPv4 or IPv6 addresses"
)

// ValidateClusterDNS returns why ip may not be a kubelet clusterDNS entry, or "": it must be
// an IPv4 or IPv6 address without a zone and not IPv4-mapped, as the CRD's CEL isIP() takes it.
func ValidateClusterDNS(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return ClusterDNSMessage
	}
	return ""
}

// labelDomain returns the prefix of a label key before '/', or "" for an unprefixed key.
func labelDomain(key string) string {
	if d, _, ok := strings.Cut(key, "/"); ok {
		return d
	}
	return ""
}

// inDomain reports whether domain is d or a subdomain of d.
func inDomain(domain, d string) bool {
	return domain == d || strings.HasSuffix(domain, "."+d)
}

// ValidateLabelKey returns the reasons key may not be a label (requirement false) or a
// requirement key (requirement true) of a Provisioner, or nil. The rules are those a node
// launched with the key has to pass:
//   - the API server's: a qualified name (k8s.io/apimachinery validation.IsQualifiedName);
//   - the kubelet's: a key in the kubernetes.io or k8s.io domains (or a subdomain) must be one a
//     kubelet may set on its own Node (k8s.io/kubelet IsKubeletLabel: node.kubernetes.io/*,
//     kubelet.kubernetes.io/*, the topology, instance-type, os and arch labels), or the kubelet
//     exits on --node-labels and the node never joins; node-role.kubernetes.io/* is refused
//     that way. kubernetes.io/hostname is refused too: it names one node;
//   - the controller's: in karpenter.sh only karpenter.sh/capacity-type, and for requirements
//     also karpenter.sh/provisioner-name (the controller sets both); in karpenter.k8s.aws no
//     label at all (the controller sets them from the instance type, as Karpenter v0.31 did:
//     a label would not choose the type but be overwritten), while requirements on those keys
//     choose instance types.
func ValidateLabelKey(key string, requirement bool) []string {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return errs
	}
	domain := labelDomain(key)
	switch {
	case key == LabelHostname:
		return []string{fmt.Sprintf("restricted label domain %s: %s is the node's own name, which its kubelet sets; the nodes of a provisioner cannot share one", domain, key)}
	case inDomain(domain, "kubernetes.io") || inDomain(domain, "k8s.io"):
		if !kubeletapis.IsKubeletLabel(key) {
			return []string{fmt.Sprintf("restricted label domain %s: a kubelet may only set %s and the namespaces %s (%s identifies one node)",
				domain, strings.Join(slices.DeleteFunc(kubeletapis.KubeletLabels(), func(k string) bool { return k == LabelHostname }), ", "),
				strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "), LabelHostname)}
		}
	case inDomain(domain, Group):
		allowed := []string{LabelCapacityType}
		if requirement {
			allowed = append(allowed, LabelProvisionerName)
		}
		if !slices.Contains(allowed, key) {
			return []string{fmt.Sprintf("restricted label domain %s: set by the controller; allowed: %s", domain, strings.Join(allowed, ", "))}
		}
	case inDomain(domain, AWSLabelDomain) && !requirement:
		return []string{fmt.Sprintf("restricted label domain %s: the controller sets these labels from the instance type; use a requirement to choose instance types", domain)}
	}
	return nil
}

// ValidateTaints checks taints as the API server checks a Node's (qualified-name keys, label
// values, a known effect, each key and effect pair once); seen carries pairs across lists
// (taints and startupTaints are registered together). Errors carry path[i].key etc.
func ValidateTaints(taints []corev1.Taint, path *field.Path, seen map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for i, t := range taints {
		p := path.Index(i)
		for _, e := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, e))
		}
		for _, e := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, e))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}))
		}
		pair := t.Key + ":" + string(t.Effect)
		if seen[pair] {
			errs = append(errs, field.Duplicate(p, pair))
		}
		seen[pair] = true
	}
	return errs
}

// Validate checks the parts of a spec that a node launched from it, or the controller's
// arithmetic, depend on: label, requirement and taint keys (ValidateLabelKey, ValidateTaints),
// the values of Gt and Lt requirements (ValidGtLtValues: one 64-bit integer), labels and
// requirements that leave a key no value (RequirementsConflict),
// the bounds of the TTLs and terminationGracePeriod, the kubelet's clusterDNS addresses
// (ValidateClusterDNS), and spec.provider (validateProvider: the tags (ValidateTagKey and the
// bounds), the AMI family, volume sizes, unique device names, launchTemplate's exclusions and
// the user data's format for its AMI family). It mirrors the CRD's rules, for objects that did
// not pass through the API server (simulate) or were stored before a rule existed. Errors
// carry field paths under path (e.g. spec.labels[node-role.kubernetes.io/x]).
func (s *ProvisionerSpec) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(s.Labels) {
		for _, e := range ValidateLabelKey(k, false) {
			errs = append(errs, field.Invalid(path.Child("labels").Key(k), k, e))
		}
		for _, e := range validation.IsValidLabelValue(s.Labels[k]) {
			errs = append(errs, field.Invalid(path.Child("labels").Key(k), s.Labels[k], e))
		}
	}
	for i, r := range s.Requirements {
		for _, e := range ValidateLabelKey(r.Key, true) {
			errs = append(errs, field.Invalid(path.Child("requirements").Index(i).Child("key"), r.Key, e))
		}
		if (r.Operator == corev1.NodeSelectorOpGt || r.Operator == corev1.NodeSelectorOpLt) && !ValidGtLtValues(r.Values) {
			errs = append(errs, field.Invalid(path.Child("requirements").Index(i).Child("values"), r.Values, GtLtValuesMessage))
		}
	}
	if i, why := RequirementsConflict(s.Labels, s.Requirements); i >= 0 {
		errs = append(errs, field.Invalid(path.Child("requirements").Index(i), s.Requirements[i].Key, why))
	}
	seen := map[string]bool{}
	errs = append(errs, ValidateTaints(s.Taints, path.Child("taints"), seen)...)
	errs = append(errs, ValidateTaints(s.StartupTaints, path.Child("startupTaints"), seen)...)
	for name, ttl := range map[string]*int64{"ttlSecondsAfterEmpty": s.TTLSecondsAfterEmpty, "ttlSecondsUntilExpired": s.TTLSecondsUntilExpired} {
		if ttl != nil && (*ttl < 0 || *ttl > MaxTTLSeconds) {
			errs = append(errs, field.Invalid(path.Child(name), *ttl, fmt.Sprintf("must be between 0 and %d seconds (100 years)", MaxTTLSeconds)))
		}
	}
	if g := s.TerminationGracePeriod; g != nil && (g.Duration < 0 || g.Duration > MaxTerminationGracePeriod) {
		errs = append(errs, field.Invalid(path.Child("terminationGracePeriod"), g.Duration.String(), "must be between 0s and 876000h (100 years)"))
	}
	if s.Limits != nil {
		// Resource names are qualified names, as the API server checks a Node's capacity (the CRD
		// cannot check map keys within its CEL cost budget).
		for _, name := range sortedKeys(s.Limits.Resources) {
			for _, e := range validation.IsQualifiedName(name) {
				errs = append(errs, field.Invalid(path.Child("limits", "resources").Key(name), name, e))
			}
		}
	}
	if k := s.KubeletConfiguration; k != nil {
		for i, ip := range k.ClusterDNS {
			if e := ValidateClusterDNS(ip); e != "" {
				errs = append(errs, field.Invalid(path.Child("kubeletConfiguration", "clusterDNS").Index(i), ip, e))
			}
		}
	}
	errs = append(errs, validateProvider(s.Provider, path.Child("provider"))...)
	return errs
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}

// VolumeSizePattern is the text of a block device's volumeSize: a non-negative decimal quantity.
// The CRD checks it in the CEL rule that bounds the size to MinVolumeSize..MaxVolumeSize (the
// same text), not as an OpenAPI pattern, so that a bad size gets one message that says why
// rather than the pattern besides.
const VolumeSizePattern = `^[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`

// VolumeSizeGiB parses a block device's volumeSize (e.g. 100Gi, 1Ti, 21474836480) and returns
// it in whole GiB, rounded up, as EC2's VolumeSize takes it. Errors: a negative quantity such
// as -4Gi (the message says it is negative), text that is not a quantity matching
// VolumeSizePattern, or a size outside MinVolumeSize..MaxVolumeSize.
func VolumeSizeGiB(s VolumeSize) (int32, error) {
	if !volumeSizeRE.MatchString(string(s)) {
		if q, err := resource.ParseQuantity(string(s)); err == nil && q.Sign() < 0 {
			return 0, fmt.Errorf("%q is negative: the size must be a positive quantity of %s to %s such as 100Gi", s, MinVolumeSize, MaxVolumeSize)
		}
		return 0, fmt.Errorf("%q is not a quantity such as 100Gi", s)
	}
	q, err := resource.ParseQuantity(string(s))
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	if q.Cmp(resource.MustParse(MinVolumeSize)) < 0 || q.Cmp(resource.MustParse(MaxVolumeSize)) > 0 {
		return 0, fmt.Errorf("%q must be between %s and %s", s, MinVolumeSize, MaxVolumeSize)
	}
	const gi = int64(1) << 30
	b := q.Value() // at most 64Ti: no overflow
	return int32((b + gi - 1) / gi), nil
}

var volumeSizeRE = regexp.MustCompile(VolumeSizePattern)

// tomlKind names the TOML type of a decoded value (https://toml.io/en/v1.0.0), for messages.
func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64, int, uint64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case toml.LocalDate:
		return "a local date"
	case toml.LocalTime:
		return "a local time"
	case toml.LocalDateTime:
		return "a local date-time"
	default:
		return "an offset date-time"
	}
}

// ValidateUserData checks spec.provider.userData in the format of its AMI family, which the CRD
// cannot check: Bottlerocket's must be TOML whose settings, settings.kubernetes,
// node-labels and node-taints are tables where given (the controller writes into them); AL2's
// and Ubuntu's may be any text, but when it starts with MIME headers it must be a multipart
// document with a boundary whose parts parse and decode (ParseMIMEUserData; the controller
// appends its bootstrap part).
// family "" is AL2.
func ValidateUserData(family, userData string) error {
	if family == AMIFamilyBottlerocket {
		doc := map[string]any{}
		if err := toml.Unmarshal([]byte(userData), &doc); err != nil {
			return fmt.Errorf("not Bottlerocket TOML settings: %w", err)
		}
		at, cur := "", doc
		for _, key := range []string{"settings", "kubernetes"} {
			at = strings.TrimPrefix(at+"."+key, ".")
			v, ok := cur[key]
			if !ok {
				return nil
			}
			if cur, ok = v.(map[string]any); !ok {
				return fmt.Errorf("%s is %s, not a table", at, tomlKind(v))
			}
		}
		for _, key := range []string{"node-labels", "node-taints"} {
			if v, ok := cur[key]; ok {
				if _, table := v.(map[string]any); !table {
					return fmt.Errorf("settings.kubernetes.%s is %s, not a table", key, tomlKind(v))
				}
			}
		}
		return nil
	}
	if !IsMIMEUserData(userData) {
		return nil
	}
	_, err := ParseMIMEUserData(userData)
	return err
}

// quotedRE matches a Go-quoted string (%q), as net/textproto and mime/multipart quote the line
// of input they could not parse.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redactInput is err's message with every quoted piece and every line of input (as net/mail
// and net/textproto repeat the line they could not parse, quoted or not) replaced: user data
// may hold secrets (a token in a script line), and errors are shown in plans, API responses and
// events.
func redactInput(err error, input string) string {
	const redacted = "(a line of the user data, not repeated here)"
	msg := quotedRE.ReplaceAllString(err.Error(), redacted)
	for _, line := range strings.Split(strings.ReplaceAll(input, "\r\n", "\n"), "\n") {
		if line = strings.TrimSpace(line); len(line) >= 3 {
			msg = strings.ReplaceAll(msg, line, redacted)
		}
	}
	return msg
}

// validateProvider checks spec.provider as the CRD does (for objects that did not pass through
// the API server) and its user data's format, which the CRD cannot check.
func validateProvider(a *AWS, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if a == nil {
		return nil
	}
	if len(a.Tags) > MaxTags {
		errs = append(errs, field.TooMany(path.Child("tags"), len(a.Tags), MaxTags))
	}
	for _, k := range sortedKeys(a.Tags) {
		for _, e := range ValidateTagKey(k) {
			errs = append(errs, field.Invalid(path.Child("tags").Key(k), k, e))
		}
		if utf8.RuneCountInString(a.Tags[k]) > MaxTagValueLength {
			errs = append(errs, field.TooLong(path.Child("tags").Key(k), "", MaxTagValueLength))
		}
	}
	family := AMIFamilyAL2
	if a.AMIFamily != nil {
		family = *a.AMIFamily
		if !slices.Contains(AMIFamilies, family) {
			errs = append(errs, field.NotSupported(path.Child("amiFamily"), family, AMIFamilies))
		}
	}
	if a.UserData != nil {
		if n := utf8.RuneCountInString(*a.UserData); n > MaxUserDataBytes {
			errs = append(errs, field.TooLong(path.Child("userData"), "", MaxUserDataBytes))
		} else if err := ValidateUserData(family, *a.UserData); err != nil {
			// The value is left out of the message (user data can be long and hold secrets).
			errs = append(errs, field.Invalid(path.Child("userData"), field.OmitValueType{}, "for AMI family "+family+": "+err.Error()))
		}
	}
	seen := map[string]bool{}
	for i, b := range a.BlockDeviceMappings {
		p := path.Child("blockDeviceMappings").Index(i)
		if seen[b.DeviceName] {
			errs = append(errs, field.Duplicate(p, b.DeviceName))
		}
		seen[b.DeviceName] = true
		if s := b.EBS.VolumeSize; s != nil {
			if _, err := VolumeSizeGiB(*s); err != nil {
				errs = append(errs, field.Invalid(p.Child("ebs", "volumeSize"), string(*s), err.Error()))
			}
		}
	}
	if a.LaunchTemplate != nil {
		for _, c := range []struct {
			name string
			set  bool
		}{{"blockDeviceMappings", len(a.BlockDeviceMappings) > 0}, {"metadataOptions", a.MetadataOptions != nil},
			{"userData", a.UserData != nil}, {"detailedMonitoring", a.DetailedMonitoring != nil}} {
			if c.set {
				errs = append(errs, field.Forbidden(path.Child(c.name), "launchTemplate and "+c.name+" are mutually exclusive"))
			}
		}
	}
	return errs
}
