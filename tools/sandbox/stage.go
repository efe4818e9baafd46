package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// stageConfig is what the launcher sends its re-executions (init, exec) on fd 3: JSON, never the environment,
// so nothing of the launcher's environment reaches them.
type stageConfig struct {
	Mode        string   `json:"mode"` // namespaces | landlock | none
	Read        []Path   `json:"read"`
	Write       []Path   `json:"write"`
	Cwd         string   `json:"cwd"`
	Env         []string `json:"env"`
	Argv        []string `json:"argv"`
	CPUSeconds  int64    `json:"cpuSeconds"`
	LandlockABI int      `json:"landlockAbi"`
	UnixSockets bool     `json:"unixSockets"` // socket(AF_UNIX) allowed
	DropUID     int      `json:"dropUid"`     // -1: keep
	DropGID     int      `json:"dropGid"`
}

// Descriptors of a stage: the config to read, the status channel to write.
const (
	fdConfig = 3
	fdStatus = 4
)

// Status lines, one per line on fdStatus:
//
//	ready                          init: the namespaces and the new root are in place
//	started                        init: the program was executed
//	error setup|usage|exec <status> <message>   (setup: the isolation could not be built; the others are final)
//	exit code <n> | exit signal <n>  init: how the program ended
func statusError(w io.Writer, kind string, status int, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(w, "error %s %d %s\n", kind, status, msg)
	return status
}

func readStageConfig() (*stageConfig, error) {
	f := os.NewFile(fdConfig, "config")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the stage config: %w", err)
	}
	var c stageConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("reading the stage config: %w", err)
	}
	return &c, nil
}
