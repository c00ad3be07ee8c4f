// Command instancetypes writes the sandbox catalogue as the controller sees it
// (instancetypes.Sandbox) as JSON: an array of cloudprovider.InstanceType. bench/karpenter reads
// it (`make bench-karpenter`).
//
//	go run ./bench/cmd/instancetypes -o bin/instancetypes.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
)

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "instancetypes:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(types, "", " ")
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}
	return os.WriteFile(out, append(data, '\n'), 0o644)
}
