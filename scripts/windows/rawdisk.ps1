# mtprep: MtprepRaw, unbuffered reads of a physical disk (C# through
# Add-Type: a PowerShell loop over bytes would take minutes a MiB).
# Not a script of its own: scripts.go puts it where a script has the line
# "#mtprep:include rawdisk.ps1" (retention-scan.ps1, retention-state.ps1).
Add-Type -TypeDefinition @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
public static class MtprepRaw {
    [DllImport("kernel32.dll", SetLastError = true, CharSet = CharSet.Unicode)]
    static extern SafeFileHandle CreateFile(string name, uint access, uint share, IntPtr sa, uint disposition, uint flags, IntPtr template);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool SetFilePointerEx(SafeFileHandle h, long distance, out long position, uint method);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool ReadFile(SafeFileHandle h, IntPtr buffer, int count, out int read, IntPtr overlapped);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern IntPtr VirtualAlloc(IntPtr address, UIntPtr size, uint type, uint protect);
    [DllImport("kernel32.dll", SetLastError = true)]
    static extern bool VirtualFree(IntPtr address, UIntPtr size, uint type);
    // GENERIC_READ; FILE_SHARE_READ | FILE_SHARE_WRITE; OPEN_EXISTING;
    // FILE_FLAG_NO_BUFFERING (0x20000000): reads of whole sectors at
    // sector offsets into a page-aligned buffer (VirtualAlloc).
    public static SafeFileHandle Open(string device) {
        SafeFileHandle h = CreateFile(device, 0x80000000, 3, IntPtr.Zero, 3, 0x20000000, IntPtr.Zero);
        if (h.IsInvalid) { throw new Win32Exception(Marshal.GetLastWin32Error(), "opening " + device); }
        return h;
    }
    static IntPtr Alloc(int n) {
        IntPtr p = VirtualAlloc(IntPtr.Zero, (UIntPtr)(uint)n, 0x3000, 0x04);
        if (p == IntPtr.Zero) { throw new Win32Exception(Marshal.GetLastWin32Error(), "VirtualAlloc"); }
        return p;
    }
    static int ReadAt(SafeFileHandle h, IntPtr buf, long offset, int n) {
        long pos;
        if (!SetFilePointerEx(h, offset, out pos, 0)) { throw new Win32Exception(Marshal.GetLastWin32Error(), "seek to " + offset); }
        int got;
        if (!ReadFile(h, buf, n, out got, IntPtr.Zero)) { throw new Win32Exception(Marshal.GetLastWin32Error(), "read at " + offset); }
        return got;
    }
    // Read returns up to n bytes (whole sectors) at offset (a sector multiple).
    public static byte[] Read(string device, long offset, int n) {
        using (SafeFileHandle h = Open(device)) {
            IntPtr buf = Alloc(n);
            try {
                int got = ReadAt(h, buf, offset, n);
                byte[] b = new byte[got];
                Marshal.Copy(buf, b, 0, got);
                return b;
            } finally { VirtualFree(buf, UIntPtr.Zero, 0x8000); }
        }
    }
    public static long CountNonZero(byte[] b) {
        long c = 0;
        for (int i = 0; i < b.Length; i++) { if (b[i] != 0) { c++; } }
        return c;
    }
    // Scan reads [offset, offset+length) in chunks and returns the first
    // offset of the first non-zero byte, -1 when all are zero; "scan <bytes> <total>"
    // lines go to stderr.
    public static long Scan(string device, long offset, long length, int chunk) {
        using (SafeFileHandle h = Open(device)) {
            IntPtr buf = Alloc(chunk);
            long[] words = new long[chunk / 8];
            try {
                long done = 0;
                while (done < length) {
                    int got = ReadAt(h, buf, offset + done, chunk);
                    if (got <= 0) { throw new Exception("the read ended at byte " + (offset + done)); }
                    int n = (int)Math.Min((long)got, length - done);
                    Marshal.Copy(buf, words, 0, (n + 7) / 8);
                    for (int w = 0; w < (n + 7) / 8; w++) {
                        if (words[w] != 0) {
                            for (int i = w * 8; i < Math.Min(w * 8 + 8, n); i++) {
                                if (Marshal.ReadByte(buf, i) != 0) { return offset + done + i; }
                            }
                        }
                    }
                    done += n;
                    Console.Error.WriteLine("scan " + done + " " + length);
                }
                return -1;
            } finally { VirtualFree(buf, UIntPtr.Zero, 0x8000); }
        }
    }
}
'@
