package main

import (
	"flag"
	"fmt"
	"syscall"
	"unsafe"
)

// The legacy ethtool ioctl commands (linux/ethtool.h) that switch one
// offload on or off; each takes a struct ethtool_value {cmd, data}.
const (
	siocEthtool    = 0x8946
	ethtoolSRXCSUM = 0x15 // receive checksum offload
	ethtoolSTXCSUM = 0x17 // transmit checksum offload (TSO depends on it)
	ethtoolSTSO    = 0x1f // TCP segmentation offload
	ethtoolSGSO    = 0x24 // generic segmentation offload
	ethtoolSGRO    = 0x2c // generic receive offload
)

type ethtoolValue struct{ cmd, data uint32 }

type ifreqData struct {
	name [16]byte
	data uintptr
	_    [16]byte
}

// offloadsOff does what `ethtool -K DEV tso off gso off gro off tx off rx
// off` does, for machines without ethtool: tcpdump must see wire-sized
// segments with real checksums.
func offloadsOff(dev string) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	for _, cmd := range []uint32{ethtoolSTSO, ethtoolSGSO, ethtoolSGRO, ethtoolSTXCSUM, ethtoolSRXCSUM} {
		v := ethtoolValue{cmd: cmd}
		var ifr ifreqData
		copy(ifr.name[:], dev)
		ifr.data = uintptr(unsafe.Pointer(&v))
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&ifr))); e != 0 {
			return fmt.Errorf("%s: ethtool command %#x: %w", dev, cmd, e)
		}
	}
	return nil
}

func runOffloadsOff(args []string) error {
	fs := flag.NewFlagSet("offloads-off", flag.ExitOnError)
	dev := fs.String("dev", "", "interface")
	fs.Parse(args)
	if *dev == "" {
		return fmt.Errorf("-dev is required")
	}
	return offloadsOff(*dev)
}
