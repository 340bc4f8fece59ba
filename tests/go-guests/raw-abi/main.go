// A Proxy-Wasm plugin written against the raw ABI with only Go's standard
// library, built by the Go toolchain as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o raw-abi.wasm .
//
// It exercises what every Go-built plugin (the Proxy-Wasm Go SDK, Coraza)
// needs from a host: the Go runtime starting in _initialize (clocks, random,
// stdout/stderr), a host call that allocates in the guest (malloc), a header
// edit (x-go-now: the wall clock as time.Now reads it) and a tick.
//
// Plugin configuration:
//   - "panic-on-configure": the plugin panics in proxy_on_configure (the Go
//     runtime prints the panic to stderr and exits);
//   - "reject": proxy_on_configure returns false;
//   - anything else: the tick period in milliseconds (default 1000).
package main

import (
	"os"
	"strconv"
	"time"
	"unsafe"
)

const (
	logInfo = 2

	requestHeaders = 0
)

//go:wasmimport env proxy_log
func proxyLog(level int32, message unsafe.Pointer, size int32) int32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(kind int32, start int32, length int32, ptr unsafe.Pointer, size unsafe.Pointer) int32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriod(ms int32) int32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(kind int32, key unsafe.Pointer, keySize int32, ptr unsafe.Pointer, size unsafe.Pointer) int32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(kind int32, key unsafe.Pointer, keySize int32, value unsafe.Pointer, valueSize int32) int32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(kind int32, key unsafe.Pointer, keySize int32, value unsafe.Pointer, valueSize int32) int32

// Buffers the host allocated through malloc, kept alive until the guest has
// read them (the Go collector must not reclaim memory the host writes into).
var allocated = map[uintptr][]byte{}

var ticks int

func ptr(s string) (unsafe.Pointer, int32) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), int32(len(s))
}

func log(message string) {
	p, n := ptr(message)
	proxyLog(logInfo, p, n)
}

// take returns the bytes the host wrote at (p, n) and releases them.
func take(p uint32, n uint32) string {
	if p == 0 || n == 0 {
		return ""
	}
	buf, ok := allocated[uintptr(p)]
	if !ok {
		return ""
	}
	delete(allocated, uintptr(p))
	return string(buf[:n])
}

//go:wasmexport malloc
func malloc(size int32) unsafe.Pointer {
	buf := make([]byte, size+1)
	p := unsafe.Pointer(&buf[0])
	allocated[uintptr(p)] = buf
	return p
}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

//go:wasmexport proxy_on_context_create
func onContextCreate(context int32, parent int32) {}

//go:wasmexport proxy_on_vm_start
func onVmStart(root int32, size int32) int32 {
	os.Stdout.WriteString("go guest: vm started\n")
	log("go guest: vm started")
	return 1
}

//go:wasmexport proxy_on_configure
func onConfigure(root int32, size int32) int32 {
	var p, n uint32
	// Buffer type 7: the plugin configuration.
	proxyGetBufferBytes(7, 0, size, unsafe.Pointer(&p), unsafe.Pointer(&n))
	config := take(p, n)
	period := 1000
	switch config {
	case "panic-on-configure":
		panic("go guest: configuration refused: " + config)
	case "reject":
		os.Stderr.WriteString("go guest: rejecting the configuration\n")
		return 0
	case "":
	default:
		parsed, err := strconv.Atoi(config)
		if err != nil {
			os.Stderr.WriteString("go guest: bad tick period " + strconv.Quote(config) + "\n")
			return 0
		}
		period = parsed
	}
	proxySetTickPeriod(int32(period))
	log("go guest: configured, tick every " + strconv.Itoa(period) + " ms")
	return 1
}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(context int32, headers int32, endOfStream int32) int32 {
	key, keySize := ptr(":path")
	var p, n uint32
	path := ""
	if proxyGetHeaderMapValue(requestHeaders, key, keySize, unsafe.Pointer(&p), unsafe.Pointer(&n)) == 0 {
		path = take(p, n)
	}
	name, nameSize := ptr("x-go-path")
	value, valueSize := ptr(path)
	proxyAddHeaderMapValue(requestHeaders, name, nameSize, value, valueSize)
	name, nameSize = ptr("x-go-ticks")
	value, valueSize = ptr(strconv.Itoa(ticks))
	proxyReplaceHeaderMapValue(requestHeaders, name, nameSize, value, valueSize)
	// The wall clock as the Go runtime reads it (WASI clock_time_get, realtime).
	name, nameSize = ptr("x-go-now")
	value, valueSize = ptr(time.Now().UTC().Format(time.RFC3339Nano))
	proxyAddHeaderMapValue(requestHeaders, name, nameSize, value, valueSize)
	log("go guest: request to " + path)
	return 0
}

//go:wasmexport proxy_on_tick
func onTick(root int32) {
	ticks++
	log("go guest: tick " + strconv.Itoa(ticks))
}

func main() {}
