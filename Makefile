# The README's two commands are `make demo` and `make test`; everything they need is built here.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
BIN := $(CURDIR)/bin
PROVIDER := $(BIN)/terraform-provider-karpenter
export PATH := $(BIN):$(PATH)
GOTEST_FLAGS ?= -count=1
TEST_TIMEOUT ?= 80m

.PHONY: all tools build generate verify-generate test test-unit demo bench docs verify-docs sandbox-up sandbox-down clean

all: build

## tools: etcd, kube-apiserver/-controller-manager/-scheduler, kwok, controller-gen into ./bin (cached per user)
tools:
	@hack/tools.sh

## build: the one binary (provider, controller, sandbox)
build:
	go build -trimpath -o $(PROVIDER) .

## generate: CRD and deepcopy from controller/apis (controller-gen)
generate:
	@hack/tools.sh controller-gen
	$(BIN)/controller-gen object paths=./controller/apis/...
	$(BIN)/controller-gen crd:crdVersions=v1 paths=./controller/apis/... output:crd:artifacts:config=controller/apis/crds

## verify-generate: fail if generated files are stale
verify-generate: generate
	@git diff --exit-code -- controller/apis || { echo "generated files are stale: run make generate"; exit 1; }

## test: unit, integration (sandbox API server + AWS emulator), terraform acceptance (TF_ACC=1) and end-to-end demo
test: tools build verify-generate verify-docs
	TF_ACC=1 KARPENTER_BIN=$(PROVIDER) go test $(GOTEST_FLAGS) -timeout $(TEST_TIMEOUT) -p 1 ./...

## test-unit: only tests that need no sandbox
test-unit:
	go test $(GOTEST_FLAGS) -short ./...

## demo: the tutorial's story end to end on the sandbox, with a timeline
demo: tools build
	go run ./test/e2e/cmd/demo --bin $(PROVIDER)

## bench: solver and end-to-end scale benchmarks
bench: tools build
	KARPENTER_BIN=$(PROVIDER) go test -run '^$$' -bench . -benchmem -timeout 60m ./controller/... ./test/...

## docs: regenerate docs/ from the provider schema, examples/ and templates/ (tfplugindocs)
docs:
	@hack/tools.sh tfplugindocs
	$(BIN)/tfplugindocs generate --provider-name karpenter --rendered-provider-name karpenter

## verify-docs: fail if docs/ is stale
verify-docs: docs
	@git diff --exit-code -- docs || { echo "docs/ is stale: run make docs"; exit 1; }
	@test -z "$$(git status --porcelain -- docs)" || { echo "docs/ has untracked generated files: run make docs"; git status --porcelain -- docs; exit 1; }

sandbox-up: tools build
	$(PROVIDER) sandbox up

sandbox-down:
	$(PROVIDER) sandbox down

clean:
	rm -rf $(BIN)
