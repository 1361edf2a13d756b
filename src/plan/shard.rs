//! Splitting a plan over machines (`factory render --shard I/N`): every shard computes the
//! same assignment from the plan alone, so no coordinator is needed and `factory merge`
//! can check that each job came from the shard that owned it.

use std::fmt;
use std::str::FromStr;

use super::{Job, Plan};
use crate::preset::PresetKind;

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("`{0}` is not a shard: write I/N with 0 ≤ I < N, e.g. 0/4")]
    Syntax(String),
    #[error(
        "shard {index}/{count}: the index must be below the count (shards are numbered from 0)"
    )]
    OutOfRange { index: u32, count: u32 },
    #[error(
        "--shard auto needs {0} in the environment (a Kubernetes Indexed Job sets \
         JOB_COMPLETION_INDEX; set FACTORY_SHARD_COUNT to the Job's completions)"
    )]
    MissingEnv(&'static str),
    #[error("--shard auto: {name}={value:?} is not a number")]
    BadEnv { name: &'static str, value: String },
}

impl Shard {
    pub(crate) fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// `--shard auto`: a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`, with the count from
    /// `FACTORY_SHARD_COUNT` (Kubernetes does not pass `completions` to the pod).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        let read = |name: &'static str| -> Result<u32, ShardError> {
            let value = get(name).ok_or(ShardError::MissingEnv(name))?;
            value
                .trim()
                .parse()
                .map_err(|_| ShardError::BadEnv { name, value })
        };
        Shard::new(read("JOB_COMPLETION_INDEX")?, read("FACTORY_SHARD_COUNT")?)
    }
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| ShardError::Syntax(s.to_string()))?;
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| ShardError::Syntax(s.to_string()))
        };
        Shard::new(num(i)?, num(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a job is expected to cost, in pixels drawn and encoded: a video's frames, or a
/// still counted as 4 frames (its JPEG/PNG encode and the duplicate gate's decode of it
/// weigh about that against one x264 frame; the exact figure matters little, the balance
/// is what it is for).
pub(crate) fn cost(job: &Job, fps: u32) -> u64 {
    let pixels = u64::from(job.width) * u64::from(job.height);
    let frames = match job.kind {
        PresetKind::Video => ((job.duration * f64::from(fps)).round() as u64).max(1),
        PresetKind::Image => 4,
    };
    pixels * frames
}

/// The shard of every job, by plan position: longest jobs first, each to the shard with
/// the least work so far (ties: the lower shard, then plan order). Deterministic: it
/// depends on the plan only.
pub fn assign(plan: &Plan, fps: u32, count: u32) -> Vec<u32> {
    let count = count.max(1) as usize;
    let mut order: Vec<(u64, usize)> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(k, j)| (cost(j, fps), k))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut load = vec![0u64; count];
    let mut owner = vec![0u32; plan.jobs.len()];
    for (c, k) in order {
        let (s, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(s, l)| (**l, *s))
            .expect("at least one shard");
        load[s] += c;
        owner[k] = s as u32;
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(
            "4/4".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, count: 4 })
        );
        assert_eq!("x".parse::<Shard>(), Err(ShardError::Syntax("x".into())));
        let env = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("2".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::from_env(env),
            Err(ShardError::MissingEnv("FACTORY_SHARD_COUNT"))
        );
    }
}
