//! Wall-clock time as the manifests, locks and licences write it: Unix seconds and UTC text,
//! without a date crate. Shared by every stage, so it sits below all of them.

/// CPU time the calling thread has used. Work done on behalf of one stage across threads
/// (the duplicate gate on every worker and the publishing thread) is the sum of these
/// differences, unaffected by what else the machine runs, where wall time is not.
pub fn thread_cpu() -> std::time::Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time the whole process has used, on every thread (FFmpeg's and libjpeg-turbo's too).
pub fn process_cpu() -> std::time::Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(id: libc::clockid_t) -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on every Linux since
    // 2.6.12. On failure `ts` stays zero, which only under-reports a cost.
    unsafe { libc::clock_gettime(id, &mut ts) };
    std::time::Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Runs `f`, adding the CPU time this thread spent in it to `total`.
pub fn cpu_into<T>(total: &mut std::time::Duration, f: impl FnOnce() -> T) -> T {
    let t0 = thread_cpu();
    let r = f();
    *total += thread_cpu().saturating_sub(t0);
    r
}

/// Unix seconds now; 0 if the clock is before 1970.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, without a date crate (civil-from-days, H. Hinnant).
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_counts_this_threads_work_and_not_sleep() {
        let mut spent = std::time::Duration::ZERO;
        let sum = cpu_into(&mut spent, || {
            let t0 = std::time::Instant::now();
            let mut x = 0u64;
            while t0.elapsed() < std::time::Duration::from_millis(50) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        });
        std::hint::black_box(sum);
        let mut slept = std::time::Duration::ZERO;
        cpu_into(&mut slept, || {
            std::thread::sleep(std::time::Duration::from_millis(50))
        });
        // Busy for 50 ms of wall time: at least some CPU, never more than the wall time.
        assert!(spent > std::time::Duration::from_millis(5), "{spent:?}");
        assert!(spent < std::time::Duration::from_millis(200), "{spent:?}");
        assert!(slept < std::time::Duration::from_millis(5), "{slept:?}");
        assert!(process_cpu() >= spent);
    }

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_796_215_872), "2026-12-02T12:51:12Z");
    }
}
