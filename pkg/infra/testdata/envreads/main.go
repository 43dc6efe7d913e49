// Command envreads is a fixture for envReads: every way a main may name the variables it reads.
package main

import (
	"fmt"
	goos "os"

	"github.com/shiplog/shiplog/pkg/awsapp"
)

const local = "LOCAL_CONSTANT"

func main() {
	_, set := goos.LookupEnv(awsapp.StateTableEnv)
	fmt.Println(goos.Getenv("LITERAL"), goos.Getenv(local), set)
}
