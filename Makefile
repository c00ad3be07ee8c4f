# The README's two commands are `make demo` and `make test`; everything they need is built here.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := $(CURDIR)/bin
PROVIDER := $(BIN)/terraform-provider-karpenter
export PATH := $(BIN):$(PATH)
GOTEST_FLAGS ?= -count=1
TEST_TIMEOUT ?= 80m

.PHONY: all tools build image image-push registry generate generate-code verify-generate lint test test-unit demo bench bench-karpenter docs sandbox-up sandbox-down clean

all: build

## tools: etcd, kube-apiserver/-controller-manager/-scheduler, kwok, controller-gen, tfplugindocs, golangci-lint into ./bin (cached per user)
tools:
	@hack/tools.sh

## build: the one binary (provider, controller, sandbox)
build:
	go build -trimpath -o $(PROVIDER) .

## image: the controller's OCI image index (linux/amd64 + linux/arm64, non-root, the same binary) as an OCI image layout in bin/image, built without a container engine (package image)
IMAGE_ARCHS := amd64 arm64
image:
	for arch in $(IMAGE_ARCHS); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags '-s -w' -o $(BIN)/image-build/linux-$$arch/terraform-provider-karpenter . || exit 1; \
	done
	go run ./hack/image build -binaries $(BIN)/image-build -out $(BIN)/image

## image-push: push bin/image to IMAGE (e.g. make image-push IMAGE=ghcr.io/you/karpenter-controller:v0.1.0), with the credentials of ~/.docker/config.json
image-push: image
	@test -n "$(IMAGE)" || { echo "set IMAGE=<registry>/<repository>:<tag>"; exit 2; }
	go run ./hack/image push -layout $(BIN)/image -ref $(IMAGE)

## registry: an in-memory OCI registry on 127.0.0.1:$(REGISTRY_PORT) in the foreground (Ctrl-C stops it; images are lost), for make image-push IMAGE=127.0.0.1:$(REGISTRY_PORT)/karpenter-controller:dev
REGISTRY_PORT ?= 5555
registry: build
	$(PROVIDER) sandbox registry --port $(REGISTRY_PORT)

# Every generated file or folder; verify-generate fails when regenerating changes any of them.
GENERATED := controller/apis/crds controller/apis/v1alpha5/zz_generated.deepcopy.go controller/apis/v1/zz_generated.deepcopy.go controller/cloudprovider/aws/zz_generated.pricing.go docs

## generate: CRD and deepcopy (controller-gen), go:generate outputs (fallback on-demand price table: hack/pricinggen against the emulator, in-process), docs/ (tfplugindocs)
generate: generate-code docs

generate-code:
	@hack/tools.sh controller-gen
	$(BIN)/controller-gen object paths=./controller/apis/...
	$(BIN)/controller-gen crd:crdVersions=v1 paths=./controller/apis/... output:crd:artifacts:config=controller/apis/crds
	go run ./hack/crdpatch controller/apis/crds/karpenter.sh_provisioners.yaml controller/apis/crds/karpenter.sh_nodeclaims.yaml
	go generate ./...

## verify-generate: fail if any generated file is stale or missing, or an unexpected one appears
verify-generate: generate
	@if ! git diff --quiet -- $(GENERATED) || [ -n "$$(git ls-files --others --exclude-standard -- $(GENERATED))" ]; then \
	  echo "generated files are stale: run make generate and commit the result"; \
	  git --no-pager diff --stat -- $(GENERATED); git ls-files --others --exclude-standard -- $(GENERATED); exit 1; fi

## lint: golangci-lint v2 with .golangci.yml (pinned in hack/tools.sh)
lint:
	@hack/tools.sh golangci-lint
	$(BIN)/golangci-lint run ./...

## test: lint, generated files, unit, integration (sandbox API server + AWS emulator), terraform acceptance (TF_ACC=1) and end to end (the demo in a bare copy of the tree)
test: tools build lint verify-generate
	TF_ACC=1 KARPENTER_BIN=$(PROVIDER) go test $(GOTEST_FLAGS) -timeout $(TEST_TIMEOUT) -p 1 ./...

## test-unit: only tests that need no sandbox
test-unit:
	go test $(GOTEST_FLAGS) -short ./...

## demo: the tutorial's story end to end on the sandbox, with a timeline
DEMO_FLAGS ?=
demo: tools build
	go run ./test/e2e/cmd/demo --bin $(PROVIDER) $(DEMO_FLAGS)

## bench: the solver table (bench/cmd/table: workloads x the sandbox catalogue, cost / lower bound), then solver and end-to-end benchmarks (1000-pod scale, 5,000-pod live loop)
BENCH_TABLE_FLAGS ?=
bench: tools build
	go run ./bench/cmd/table $(BENCH_TABLE_FLAGS)
	KARPENTER_BIN=$(PROVIDER) go test -run '^$$' -bench . -benchmem -timeout 60m ./controller/... ./test/...

## bench-karpenter: our solver beside Karpenter v1.15.0's scheduler on the same pods and instance types (bench/karpenter, its own module, Go 1.27)
BENCH_KARPENTER_FLAGS ?=
bench-karpenter:
	go run ./bench/cmd/instancetypes -o $(BIN)/instancetypes.json
	cd bench/karpenter && GOTOOLCHAIN=go1.27.3 go run . -instance-types $(BIN)/instancetypes.json $(BENCH_KARPENTER_FLAGS)

## docs: regenerate docs/ from the provider schema, examples/ and templates/ (tfplugindocs)
docs:
	@hack/tools.sh tfplugindocs
	$(BIN)/tfplugindocs generate --provider-name karpenter --rendered-provider-name karpenter

sandbox-up: tools build
	$(PROVIDER) sandbox up

sandbox-down:
	$(PROVIDER) sandbox down

clean:
	rm -rf $(BIN)
