//! Seccomp filters cleave installs in a sandbox, as classic BPF programs built before clone
//! (seccomp(2), the `seccomp_data` layout of linux/seccomp.h).

/// Size of one `struct sock_filter` (code u16, jt u8, jf u8, k u32).
pub const INSTRUCTION_SIZE: usize = 8;

const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
/// Offsets in `struct seccomp_data`: nr, arch, then args[6] of u64 from 16.
const NR: u32 = 0;
const ARCH: u32 = 4;
/// The low 32 bits of args[1] (little-endian): the ioctl request, an `unsigned int` to the
/// kernel, so the high half is ignored there and must be ignored here.
const ARG1_LOW: u32 = 24;
const TIOCSTI: u32 = 0x5412;
const TIOCLINUX: u32 = 0x541c;
const TIOCSETD: u32 = 0x5423;
/// The x32 ABI's syscall-number bit (x86_64 only; masking it is harmless elsewhere).
const X32_BIT: u32 = 0x4000_0000;

/// (native audit arch, native ioctl numbers (x32's among them), compat arch, compat ioctl).
#[cfg(target_arch = "x86_64")]
const ARCHES: (u32, [u32; 2], u32, u32) = (0xc000_003e, [16, 514], 0x4000_0003, 54);
#[cfg(target_arch = "aarch64")]
const ARCHES: (u32, [u32; 2], u32, u32) = (0xc000_00b7, [29, 29], 0x4000_0028, 54);

fn insn(out: &mut Vec<u8>, code: u16, jt: u8, jf: u8, k: u32) {
    out.extend_from_slice(&code.to_ne_bytes());
    out.push(jt);
    out.push(jf);
    out.extend_from_slice(&k.to_ne_bytes());
}

/// A filter that fails `ioctl(fd, TIOCSTI, ..)`, `ioctl(fd, TIOCLINUX, ..)` and
/// `ioctl(fd, TIOCSETD, ..)` with EPERM, through the native ABI and the 32-bit compat one,
/// and allows everything else. Each reaches a terminal the program shares with the caller:
/// TIOCSTI pushes characters into its input, so the program could type commands into the
/// caller's shell (CVE-2017-5226 in bubblewrap); TIOCLINUX pastes a virtual console's
/// selection into it (CVE-2023-28100 in flatpak); TIOCSETD changes its line discipline,
/// which needs no privilege: the caller's terminal then stops working after the sandbox
/// ends (N_NULL drops all input), and with `dev.tty.ldisc_autoload` the kernel loads the
/// module of any discipline asked for, old code with a history of exploited bugs
/// (CVE-2017-2636, n_hdlc).
pub fn tty_injection_filter() -> Vec<u8> {
    let (native, [nr_a, nr_b], compat, compat_nr) = ARCHES;
    let mut p = Vec::with_capacity(17 * INSTRUCTION_SIZE);
    insn(&mut p, LD_W_ABS, 0, 0, ARCH); // 0
    insn(&mut p, JEQ_K, 0, 5, native); // 1: -> 2 | 7
    insn(&mut p, LD_W_ABS, 0, 0, NR); // 2
    insn(&mut p, ALU_AND_K, 0, 0, !X32_BIT); // 3
    insn(&mut p, JEQ_K, 6, 0, nr_a); // 4: -> 11 | 5
    insn(&mut p, JEQ_K, 5, 0, nr_b); // 5: -> 11 | 6
    insn(&mut p, RET_K, 0, 0, RET_ALLOW); // 6
    insn(&mut p, JEQ_K, 0, 2, compat); // 7: -> 8 | 10
    insn(&mut p, LD_W_ABS, 0, 0, NR); // 8
    insn(&mut p, JEQ_K, 1, 0, compat_nr); // 9: -> 11 | 10
    insn(&mut p, RET_K, 0, 0, RET_ALLOW); // 10
    insn(&mut p, LD_W_ABS, 0, 0, ARG1_LOW); // 11
    insn(&mut p, JEQ_K, 2, 0, TIOCSTI); // 12: -> 15 | 13
    insn(&mut p, JEQ_K, 1, 0, TIOCLINUX); // 13: -> 15 | 14
    insn(&mut p, JEQ_K, 0, 1, TIOCSETD); // 14: -> 15 | 16
    insn(&mut p, RET_K, 0, 0, RET_ERRNO | libc::EPERM as u32); // 15
    insn(&mut p, RET_K, 0, 0, RET_ALLOW); // 16
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the filter uses, to check its verdicts
    /// without installing it.
    fn run(prog: &[u8], nr: u32, arch: u32, arg1: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[24..32].copy_from_slice(&arg1.to_ne_bytes());
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = &prog[pc * 8..pc * 8 + 8];
            let code = u16::from_ne_bytes([i[0], i[1]]);
            let (jt, jf) = (i[2] as usize, i[3] as usize);
            let k = u32::from_ne_bytes([i[4], i[5], i[6], i[7]]);
            pc += 1;
            match code {
                LD_W_ABS => {
                    let o = k as usize;
                    acc = u32::from_ne_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
                }
                ALU_AND_K => acc &= k,
                JEQ_K => pc += if acc == k { jt } else { jf },
                RET_K => return k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn refuses_tiocsti_tioclinux_and_tiocsetd_only() {
        let p = tty_injection_filter();
        assert_eq!(p.len() % INSTRUCTION_SIZE, 0);
        let (native, [nr, x32], compat, compat_nr) = ARCHES;
        let eperm = RET_ERRNO | libc::EPERM as u32;
        assert_eq!(u64::from(TIOCSETD), libc::TIOCSETD);
        assert_eq!(run(&p, nr, native, TIOCSTI as u64), eperm);
        assert_eq!(run(&p, nr, native, TIOCLINUX as u64), eperm);
        assert_eq!(run(&p, nr, native, TIOCSETD as u64), eperm);
        assert_eq!(run(&p, compat_nr, compat, TIOCSETD as u64), eperm);
        assert_eq!(run(&p, nr, native, (1 << 32) | TIOCSETD as u64), eperm);
        assert_eq!(run(&p, nr, native, libc::TIOCGETD), RET_ALLOW);
        // The kernel truncates the request to 32 bits: so does the filter.
        assert_eq!(run(&p, nr, native, (1 << 32) | TIOCSTI as u64), eperm);
        assert_eq!(run(&p, x32 | X32_BIT, native, TIOCSTI as u64), eperm);
        assert_eq!(run(&p, compat_nr, compat, TIOCSTI as u64), eperm);
        assert_eq!(run(&p, nr, native, 0x5401), RET_ALLOW); // TCGETS
        assert_eq!(run(&p, nr + 1, native, TIOCSTI as u64), RET_ALLOW);
        assert_eq!(run(&p, 0, 0xdead, TIOCSTI as u64), RET_ALLOW);
    }
}
