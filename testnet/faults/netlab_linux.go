//go:build linux

package faults

// The Linux half of NetLab: entering namespaces, and the NFQUEUE delay
// used when the kernel has no netem.
//
// A delay queue is a netfilter queue (nfnetlink_queue) bound from this
// process in one node namespace. The node's rule `-i eth0 -j NFQUEUE`
// hands every arriving packet to the kernel queue, which tells us its id
// (metadata only, no payload copied); we answer ACCEPT once the packet has
// waited the delay. Packets leave in arrival order: the kernel's batch
// verdict accepts every queued packet up to an id, and release times
// never go backwards, even when the delay shrinks.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nlInNetns runs fn on a locked OS thread moved into the named network
// namespace, then moves the thread back. If it cannot move back, the
// thread stays locked, and Go discards it when the goroutine ends.
func nlInNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: opening this thread's namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: opening namespace %s: %w", name, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: entering namespace %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("netlab: leaving namespace %s: %w (thread discarded)", name, err))
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func nlPidAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// nfnetlink_queue constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue = 3

	nfqnlMsgPacket       = 0
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind = 1
	nfqnlCopyMeta   = 1
	nfqaCfgFGSO     = 1 << 2

	nfAccept = 1

	nlDelayQueueMaxLen = 65536
)

type nlPending struct {
	id  uint32
	due time.Time
}

// nlDelayQueue holds one node namespace's arriving packets for delay.
type nlDelayQueue struct {
	ns string
	f  *os.File

	mu      sync.Mutex
	delay   time.Duration
	pend    []nlPending
	lastDue time.Time

	wake     chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	seq      atomic.Uint32
	seen     atomic.Uint64 // packets queued so far
	overruns atomic.Uint64 // ENOBUFS: notifications lost (their packets leave with the next batch)
	errs     atomic.Uint64 // verdict errors
}

// startQueues binds a delay queue in every node namespace.
func (l *NetLab) startQueues() ([]*nlDelayQueue, error) {
	var qs []*nlDelayQueue
	for _, ns := range l.nodes {
		q, err := nlOpenDelayQueue(ns)
		if err != nil {
			for _, q := range qs {
				q.close()
			}
			return nil, err
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// probeQueue checks, end to end, that an iptables NFQUEUE rule reaches
// node 0's queue and that our verdicts let packets through: a loopback
// TCP exchange inside node 0 under a temporary rule.
func (l *NetLab) probeQueue() error {
	q := l.queues[0]
	var ln net.Listener
	if err := l.Do(0, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			b := make([]byte, 1)
			_, _ = c.Read(b)
			_, _ = c.Write(b)
			c.Close()
		}
	}()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	rule := []string{"INPUT", "-i", "lo", "-p", "tcp", "--dport", port, "-j", "NFQUEUE", "--queue-num", fmt.Sprint(nlNfQueueNum)}
	ipt := func(op string) error {
		return nlRun("", "ip", append([]string{"netns", "exec", l.nodes[0], "iptables", "-w", op}, rule...)...)
	}
	if err := ipt("-I"); err != nil {
		return err
	}
	defer ipt("-D")
	before := q.seen.Load()
	err := l.Do(0, func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write([]byte{7}); err != nil {
			return err
		}
		_, err = c.Read(make([]byte, 1))
		return err
	})
	if err != nil {
		return fmt.Errorf("TCP through a probe NFQUEUE rule failed: %w", err)
	}
	if q.seen.Load() == before {
		return errors.New("a probe NFQUEUE rule sent no packet to the queue")
	}
	return nil
}

func nlOpenDelayQueue(ns string) (*nlDelayQueue, error) {
	var fd int
	err := nlInNetns(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netfilter netlink socket in %s: %w", ns, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding netfilter netlink socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	q := &nlDelayQueue{
		ns:   ns,
		f:    os.NewFile(uintptr(fd), "nfqueue-"+ns),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, 0} // command, pad, pf (unused since Linux 3.8)
	params := make([]byte, 5)               // copy_range (be32) 0, copy_mode META
	params[4] = nfqnlCopyMeta
	if err := q.config(nlAttr(nfqaCfgCmd, cmd)); err != nil {
		q.f.Close()
		return nil, fmt.Errorf("binding netfilter queue %d in %s: %w", nlNfQueueNum, ns, err)
	}
	if err := q.config(nlAttr(nfqaCfgParams, params)); err != nil {
		q.f.Close()
		return nil, fmt.Errorf("configuring netfilter queue in %s: %w", ns, err)
	}
	_ = q.config(nlAttr(nfqaCfgQueueMax, nlBe32(nlDelayQueueMaxLen)))
	_ = q.config(nlAttr(nfqaCfgMask, nlBe32(nfqaCfgFGSO)), nlAttr(nfqaCfgFlags, nlBe32(nfqaCfgFGSO)))
	q.wg.Add(2)
	go q.readLoop()
	go q.releaseLoop()
	return q, nil
}

// config sends a queue config message and waits for its acknowledgement.
func (q *nlDelayQueue) config(attrs ...[]byte) error {
	seq := q.seq.Add(1)
	if _, err := q.f.Write(nlNfqMsg(nfqnlMsgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, seq, attrs...)); err != nil {
		return err
	}
	_ = q.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer q.f.SetReadDeadline(time.Time{})
	buf := make([]byte, 8192)
	for {
		n, err := q.f.Read(buf)
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			if typ == unix.NLMSG_ERROR && mseq == seq && l >= unix.NLMSG_HDRLEN+4 {
				if e := int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:])); e != 0 {
					return syscall.Errno(-e)
				}
				return nil
			}
			b = b[min(nlAlign(l), len(b)):]
		}
	}
}

func (q *nlDelayQueue) readLoop() {
	defer q.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, err := q.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				q.overruns.Add(1)
				continue
			}
			select {
			case <-q.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		now := time.Now()
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			switch {
			case typ == nfnlSubsysQueue<<8|nfqnlMsgPacket:
				if id, ok := nlPacketID(b[:l]); ok {
					q.enqueue(id, now)
				}
			case typ == unix.NLMSG_ERROR:
				q.errs.Add(1)
			}
			b = b[min(nlAlign(l), len(b)):]
		}
	}
}

// nlPacketID finds NFQA_PACKET_HDR's packet id in a queued-packet message.
func nlPacketID(m []byte) (uint32, bool) {
	a := m[unix.NLMSG_HDRLEN+4:] // after nlmsghdr and nfgenmsg
	for len(a) >= 4 {
		al := int(binary.NativeEndian.Uint16(a))
		at := binary.NativeEndian.Uint16(a[2:]) & 0x3fff // NLA_TYPE_MASK
		if al < 4 || al > len(a) {
			return 0, false
		}
		if at == nfqaPacketHdr && al >= 8 {
			return binary.BigEndian.Uint32(a[4:]), true
		}
		a = a[min(nlAlign(al), len(a)):]
	}
	return 0, false
}

func (q *nlDelayQueue) enqueue(id uint32, now time.Time) {
	q.seen.Add(1)
	q.mu.Lock()
	due := now.Add(q.delay)
	if due.Before(q.lastDue) {
		due = q.lastDue // never overtake an earlier packet
	}
	q.lastDue = due
	q.pend = append(q.pend, nlPending{id, due})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// setDelay sets the delay for packets arriving from now on; a delay of 0
// also releases every packet held, at once.
func (q *nlDelayQueue) setDelay(d time.Duration) {
	q.mu.Lock()
	q.delay = d
	if d == 0 {
		now := time.Now()
		for i := range q.pend {
			q.pend[i].due = now
		}
		q.lastDue = now
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *nlDelayQueue) releaseLoop() {
	defer q.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		now := time.Now()
		n := 0
		for n < len(q.pend) && !q.pend[n].due.After(now) {
			n++
		}
		var last uint32
		if n > 0 {
			last = q.pend[n-1].id
			q.pend = q.pend[n:]
		}
		wait := time.Hour
		if len(q.pend) > 0 {
			wait = q.pend[0].due.Sub(now)
		}
		q.mu.Unlock()
		if n > 0 {
			// Accept every queued packet with id <= last.
			v := append(nlBe32(nfAccept), nlBe32(last)...)
			if _, err := q.f.Write(nlNfqMsg(nfqnlMsgVerdictBatch, unix.NLM_F_REQUEST, 0, nlAttr(nfqaVerdictHdr, v))); err != nil {
				q.errs.Add(1)
			}
		}
		timer.Reset(wait)
		select {
		case <-q.done:
			return
		case <-q.wake:
		case <-timer.C:
		}
	}
}

func (q *nlDelayQueue) close() {
	select {
	case <-q.done:
		return
	default:
	}
	close(q.done)
	q.f.Close()
	q.wg.Wait()
}

// nlNfqMsg builds an nfnetlink queue message for queue nlNfQueueNum.
func nlNfqMsg(msgType uint16, flags uint16, seq uint32, attrs ...[]byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	b[unix.NLMSG_HDRLEN] = unix.AF_UNSPEC // nfgenmsg: family, version 0, res_id = queue (be16)
	binary.BigEndian.PutUint16(b[unix.NLMSG_HDRLEN+2:], nlNfQueueNum)
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	return b
}

func nlAttr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, nlAlign(l))
	binary.NativeEndian.PutUint16(b, uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

func nlBe32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func nlAlign(n int) int { return (n + 3) &^ 3 }
