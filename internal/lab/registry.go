package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The registry is how a lab finds the leftovers of one that was killed.
//
// Kernel objects (network namespaces, links, loop devices, mounts) outlive
// a process killed with SIGKILL, and several labs may run at once (go test
// runs packages in parallel), so "delete everything named mtlab-*" would
// tear down a neighbour. Each running lab therefore holds an exclusive
// flock on /run/mtlab/slot-N.lock for its whole life and describes itself in
// /run/mtlab/slot-N.json. The kernel drops a flock when its holder dies,
// however it dies, so a slot whose lock can be taken belongs to nobody and
// everything its record names may be removed. The slot number also picks
// the lab's subnet (10.77.N.0/24), which keeps concurrent labs apart.
//
// /run/mtlab/runs/<run ID> journals every run this registry started, from
// before its first kernel object until its Down removed them all. Kernel
// objects are swept by name only for a journalled run that is not live: a
// lab started in another mount namespace (a chroot with its own /run) has
// its own registry, yet shares this network namespace's links, and must
// not be torn down as "dead".
const (
	registryDir = "/run/mtlab"
	maxSlots    = 32
	// subnetPrefix is the first two octets of every lab subnet.
	subnetPrefix = "10.77"
)

// Names of kernel objects carry the run ID, so leftovers are found by name
// even when a run died before it wrote its record.
var (
	netnsRe  = regexp.MustCompile(`^mtlab-([0-9a-f]{6})-g[0-9]+$`)
	linkRe   = regexp.MustCompile(`^mtl([0-9a-f]{6})[bhg][0-9]*$`)
	runDirRe = regexp.MustCompile(`^run-([0-9a-f]{6})$`)
)

// Record is what /run/mtlab/slot-N.json says about a running lab.
type Record struct {
	Slot      int       `json:"slot"`
	RunID     string    `json:"run_id"`
	Pid       int       `json:"pid"`
	Program   string    `json:"program"`
	StateDir  string    `json:"state_dir"`
	RunDir    string    `json:"run_dir"`
	Started   time.Time `json:"started"`
	VcsimDir  string    `json:"vcsim_dir,omitempty"`
	Procs     []procRef `json:"procs,omitempty"`
	Netns     []string  `json:"netns,omitempty"`
	Guests    []string  `json:"guests,omitempty"`
	VCenter   string    `json:"vcenter,omitempty"`
	LabEnv    string    `json:"lab_env,omitempty"`
	Completed bool      `json:"completed"`
}

// procRef names a process by pid and start time, so a recycled pid is never
// killed by mistake.
type procRef struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
	What  string `json:"what"`
}

// slot is a held registry slot.
type slot struct {
	n    int
	lock *os.File
	mu   sync.Mutex // guards rec: guests start side by side
	rec  Record
}

// update changes the slot's record and writes it out at once, so that what
// a lab creates is on disk before a kill can leave it behind.
func (s *slot) update(f func(r *Record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.rec)
	return s.save()
}

// record returns a copy of the slot's record.
func (s *slot) record() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.Procs = append([]procRef(nil), s.rec.Procs...)
	return r
}

func slotLockPath(n int) string { return filepath.Join(registryDir, fmt.Sprintf("slot-%d.lock", n)) }
func runJournalPath(id string) string {
	return filepath.Join(registryDir, "runs", id)
}

// journalRun records that this registry started rec's run.
func journalRun(rec Record) error {
	if err := os.MkdirAll(filepath.Dir(runJournalPath(rec.RunID)), 0o755); err != nil {
		return err
	}
	b := fmt.Appendf(nil, "pid %d program %s started %s\n", rec.Pid, rec.Program, rec.Started.Format(time.RFC3339))
	return os.WriteFile(runJournalPath(rec.RunID), b, 0o644)
}

func journalled(id string) bool {
	_, err := os.Stat(runJournalPath(id))
	return err == nil
}
func slotRecordPath(n int) string { return filepath.Join(registryDir, fmt.Sprintf("slot-%d.json", n)) }

// tryLock takes the slot's lock without waiting. Only acquireSlot creates
// lock files; a check of a slot that never had one finds it free. Lock files
// are never removed: unlinking a lock file another process has just opened
// would let two labs "hold" the same slot.
func tryLock(n int) (*os.File, error) {
	return tryLockFile(n, false)
}

func tryLockFile(n int, create bool) (*os.File, error) {
	flags := os.O_RDWR
	if create {
		if err := os.MkdirAll(registryDir, 0o755); err != nil {
			return nil, err
		}
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(slotLockPath(n), flags, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func readRecord(n int) (Record, bool) {
	b, err := os.ReadFile(slotRecordPath(n))
	if err != nil {
		return Record{}, false
	}
	var r Record
	if json.Unmarshal(b, &r) != nil {
		return Record{}, false
	}
	return r, true
}

// save writes the record; the caller holds s.mu (or owns s alone).
func (s *slot) save() error {
	b, err := json.MarshalIndent(s.rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := slotRecordPath(s.n) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, slotRecordPath(s.n))
}

func newRunID() string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// subnetInUse reports whether some interface of the host already has an
// address in the slot's subnet that is not a leftover of this registry's
// runs (a foreign lab's link, from another mount namespace, counts).
func subnetInUse(n int) bool {
	_, want, _ := net.ParseCIDR(fmt.Sprintf("%s.%d.0/24", subnetPrefix, n))
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, ifc := range ifs {
		if m := linkRe.FindStringSubmatch(ifc.Name); m != nil && journalled(m[1]) {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && want.Contains(ipn.IP) {
				return true
			}
		}
	}
	return false
}

// acquireSlot cleans up after dead labs and takes the first free slot.
func acquireSlot(ctx context.Context, log *slog.Logger, stateDir string) (*slot, error) {
	for n := 0; n < maxSlots; n++ {
		f, err := tryLockFile(n, true)
		if err != nil {
			continue // held by a live lab
		}
		// Ours now: whatever the slot's record names is a leftover.
		if rec, ok := readRecord(n); ok {
			log.Info("removing leftovers of a lab that did not shut down", "slot", n, "run", rec.RunID, "pid", rec.Pid, "program", rec.Program)
			if err := cleanupRecord(ctx, log, rec); err != nil {
				log.Warn("cleanup of a dead lab was incomplete", "slot", n, "err", err)
			} else {
				os.Remove(runJournalPath(rec.RunID))
			}
		}
		if subnetInUse(n) {
			log.Debug("slot subnet in use by the host, skipping", "slot", n)
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
			f.Close()
			continue
		}
		s := &slot{n: n, lock: f}
		s.rec = Record{
			Slot:     n,
			RunID:    newRunID(),
			Pid:      os.Getpid(),
			Program:  filepath.Base(os.Args[0]),
			StateDir: stateDir,
			Started:  time.Now(),
		}
		s.rec.RunDir = filepath.Join(stateDir, "run-"+s.rec.RunID)
		if err := journalRun(s.rec); err != nil {
			s.release()
			return nil, fmt.Errorf("write lab run journal: %w", err)
		}
		if err := s.save(); err != nil {
			s.release()
			return nil, fmt.Errorf("write lab record: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("all %d lab slots are in use (see %s)", maxSlots, registryDir)
}

// forget removes the run from the journal: its kernel objects are gone.
func (s *slot) forget() { os.Remove(runJournalPath(s.rec.RunID)) }

func (s *slot) release() {
	if s.lock == nil {
		return
	}
	os.Remove(slotRecordPath(s.n))
	unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
	s.lock.Close()
	s.lock = nil
}

// slotLive reports whether a live process holds slot n's lock.
func slotLive(n int) bool {
	f, err := tryLock(n)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// liveRuns returns the records of labs that are running now.
func liveRuns() map[string]Record {
	live := map[string]Record{}
	for n := 0; n < maxSlots; n++ {
		if !slotLive(n) {
			continue
		}
		if rec, ok := readRecord(n); ok {
			live[rec.RunID] = rec
		}
	}
	return live
}

// Cleanup removes what labs that did not shut down left behind: the
// processes, network namespaces, links, mounts, loop devices and
// directories of every dead lab in the registry, plus any run directory
// under stateDir (and the kernel objects named after it) that no running lab
// owns. It never touches a running lab. It is what `mtlab down` and every Up
// run first; call it directly after a test binary was killed.
func Cleanup(stateDir string) error {
	return CleanupContext(context.Background(), stateDir, nil)
}

// CleanupContext is Cleanup with a context and a logger (nil: silent) that
// says what it removes.
func CleanupContext(ctx context.Context, stateDir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if stateDir != "" {
		abs, err := filepath.Abs(stateDir)
		if err != nil {
			return err
		}
		stateDir = abs
	}
	return cleanup(ctx, log, stateDir)
}

func cleanup(ctx context.Context, log *slog.Logger, stateDir string) error {
	var errs []error
	for n := 0; n < maxSlots; n++ {
		f, err := tryLock(n)
		if err != nil {
			continue
		}
		if rec, ok := readRecord(n); ok {
			log.Info("removing leftovers of a lab that did not shut down", "slot", n, "run", rec.RunID, "pid", rec.Pid)
			if err := cleanupRecord(ctx, log, rec); err != nil {
				errs = append(errs, err)
			} else {
				os.Remove(slotRecordPath(n))
				os.Remove(runJournalPath(rec.RunID))
			}
		}
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}
	live := liveRuns()
	// Kernel objects named after a run of this registry that is not running.
	dead, foreign := orphanRunIDs(objectRunIDs(), live, journalled)
	for _, id := range dead {
		log.Info("removing kernel objects of a dead lab run", "run", id)
		if err := cleanupRecord(ctx, log, Record{RunID: id}); err != nil {
			errs = append(errs, err)
		} else {
			os.Remove(runJournalPath(id))
		}
	}
	if len(foreign) > 0 {
		log.Warn("leaving lab kernel objects of runs this registry did not start (a lab in another mount namespace?); "+
			"if no lab runs anywhere, remove them with ip netns del / ip link del", "runs", foreign, "registry", registryDir)
	}
	// Run directories in this state dir that no running lab owns.
	if stateDir != "" {
		ents, _ := os.ReadDir(stateDir)
		for _, e := range ents {
			m := runDirRe.FindStringSubmatch(e.Name())
			if m == nil {
				continue
			}
			dir := filepath.Join(stateDir, e.Name())
			if rec, ok := live[m[1]]; ok && rec.RunDir == dir {
				continue
			}
			log.Info("removing run directory of a dead lab", "dir", dir)
			if err := cleanupRecord(ctx, log, Record{RunID: m[1], RunDir: dir}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// objectRunIDs lists the run IDs that name a network namespace or a link.
func objectRunIDs() []string {
	seen := map[string]bool{}
	for _, ns := range listNetns() {
		if m := netnsRe.FindStringSubmatch(ns); m != nil {
			seen[m[1]] = true
		}
	}
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if m := linkRe.FindStringSubmatch(ifc.Name); m != nil {
			seen[m[1]] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// orphanRunIDs splits the run IDs of kernel objects that no live lab has:
// dead runs this registry journalled (to remove), and foreign runs it never
// started (to leave alone).
func orphanRunIDs(ids []string, live map[string]Record, journalled func(string) bool) (dead, foreign []string) {
	for _, id := range ids {
		switch {
		case live[id].RunID != "":
		case journalled(id):
			dead = append(dead, id)
		default:
			foreign = append(foreign, id)
		}
	}
	return dead, foreign
}

// cleanupRecord removes everything rec names, and every kernel object named
// after its run ID. The order matters: processes first (they hold mounts and
// loop devices open), then namespaces and links, then mounts, then loop
// devices, then files.
func cleanupRecord(ctx context.Context, log *slog.Logger, rec Record) error {
	var errs []error
	for _, p := range rec.Procs {
		if procStart(p.Pid) == p.Start && p.Start != 0 {
			log.Debug("killing leftover process", "pid", p.Pid, "what", p.What)
			syscall.Kill(p.Pid, syscall.SIGKILL)
			waitGone(p.Pid, p.Start, 5*time.Second)
		}
	}
	if rec.RunID != "" {
		for _, ns := range listNetns() {
			if m := netnsRe.FindStringSubmatch(ns); m != nil && m[1] == rec.RunID {
				killNetnsPids(ns)
				if err := run(ctx, "ip", "netns", "del", ns); err != nil {
					errs = append(errs, err)
				}
			}
		}
		ifs, _ := net.Interfaces()
		for _, ifc := range ifs {
			if m := linkRe.FindStringSubmatch(ifc.Name); m != nil && m[1] == rec.RunID {
				// Deleting a namespace deletes its veth ends and their peers
				// with it, so a link may be gone by now.
				if err := run(ctx, "ip", "link", "del", ifc.Name); err != nil && linkExists(ifc.Name) {
					errs = append(errs, err)
				}
			}
		}
	}
	if rec.RunDir != "" {
		if err := unmountUnder(rec.RunDir); err != nil {
			errs = append(errs, err)
		}
		if err := detachLoopsUnder(rec.RunDir); err != nil {
			errs = append(errs, err)
		}
		if len(mountsUnder(rec.RunDir)) == 0 {
			if err := os.RemoveAll(rec.RunDir); err != nil {
				errs = append(errs, err)
			}
		} else {
			errs = append(errs, fmt.Errorf("mounts remain under %s; not removing it", rec.RunDir))
		}
	}
	if rec.VcsimDir != "" && strings.HasPrefix(filepath.Base(rec.VcsimDir), "govcsim-") {
		os.RemoveAll(rec.VcsimDir)
	}
	if rec.LabEnv != "" {
		os.Remove(rec.LabEnv)
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func listNetns() []string {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// killNetnsPids kills every process whose network namespace is ns (a guest
// whose lab died and whose init somehow survived).
func killNetnsPids(ns string) {
	var want unix.Stat_t
	if unix.Stat(filepath.Join("/run/netns", ns), &want) != nil {
		return
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// procStart returns the start time (clock ticks since boot) of pid, or 0.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may contain spaces and parentheses; fields after the
	// last ')' are fixed. starttime is field 22, the 20th after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

func waitGone(pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if procStart(pid) != start {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Status describes the labs in the registry, for `mtlab status`.
type Status struct {
	Slot   int    `json:"slot"`
	Live   bool   `json:"live"`
	Record Record `json:"Record"`
}

// Statuses lists every slot that has a Record, live or dead.
func Statuses() []Status {
	var out []Status
	for n := 0; n < maxSlots; n++ {
		rec, ok := readRecord(n)
		if !ok {
			continue
		}
		out = append(out, Status{Slot: n, Live: slotLive(n), Record: rec})
	}
	return out
}
