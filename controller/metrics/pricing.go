package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// PricingRefreshes counts on-demand price refreshes from the AWS Price List API by result:
	// "success", "throttled" (ThrottlingException after the SDK's retries), "invalid" (a
	// response the SDK cannot read, or a document without the aws_v1 shape) or "error" (any
	// other failure).
	PricingRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "pricing", Name: "refreshes_total",
		Help: "Number of on-demand price refreshes from the AWS Price List API, by result.",
	}, []string{"result"})

	// OnDemandPricesKnown is the number of instance types with an on-demand price, by source
	// ("live": the last successful Price List refresh; "fallback": the built-in table); the
	// source not in use reads 0.
	OnDemandPricesKnown = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "pricing", Name: "on_demand_prices",
		Help: "Number of instance types with an on-demand price, by source (live or fallback).",
	}, []string{"source"})

	// PricingLastRefresh is the Unix time (seconds) of the last successful Price List refresh.
	PricingLastRefresh = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "pricing", Name: "last_refresh_timestamp_seconds",
		Help: "Unix time of the last successful on-demand price refresh from the AWS Price List API.",
	})
)

func init() {
	crmetrics.Registry.MustRegister(PricingRefreshes, OnDemandPricesKnown, PricingLastRefresh)
}
