//go:build linux || darwin || freebsd

package liveplugin

import "syscall"

// freeBytes returns a function that reports the bytes free to
// unprivileged users on the file system holding dir, or -1 if it cannot
// tell.
func freeBytes(dir string) func() float64 {
	return func() float64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return -1
		}
		return float64(uint64(st.Bavail) * uint64(st.Bsize)) // the fields' types differ between systems
	}
}
