//! Whether the licences of what an output shows allow it on a given day in its region, and
//! when the first of them ends. Checked for every job before it renders (an expired or
//! region-less licence fails the job, naming asset, variant and region), written to the
//! manifest (`licence_expires`) and the library (`factory library expiring`).

use std::path::Path;

use super::Job;
use crate::preset::Preset;
use crate::template::{Licence, Template};

/// The licences behind one output: the files it shows that carry one.
pub fn of_job<'t>(
    t: &'t Template,
    job: &Job,
    preset: Option<&Preset>,
) -> Vec<(std::path::PathBuf, &'t Licence)> {
    if t.licences.is_empty() {
        return Vec::new();
    }
    super::job_input_paths(t, job, preset)
        .into_iter()
        .filter_map(|p| t.licences.get(&p).map(|l| (p, l)))
        .collect()
}

/// The first day an output's licences stop covering it (`YYYY-MM-DD` compares as text).
pub(crate) fn earliest_expiry(t: &Template, job: &Job, preset: Option<&Preset>) -> Option<String> {
    of_job(t, job, preset)
        .iter()
        .filter_map(|(_, l)| l.expires.clone())
        .min()
}

/// The licences behind one output as the library records them.
pub(crate) fn records(
    t: &Template,
    job: &Job,
    preset: Option<&Preset>,
) -> Vec<crate::dedup::AssetLicence> {
    of_job(t, job, preset)
        .into_iter()
        .map(|(path, l)| crate::dedup::AssetLicence {
            asset: path
                .strip_prefix(&t.root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned(),
            holder: l.holder.clone(),
            id: l.id.clone(),
            expires: l.expires.clone(),
        })
        .collect()
}

/// Why the output may not be made on `today` (`YYYY-MM-DD`), or `None`. The executor
/// prefixes the job (variant, file, preset, region) to it.
pub(crate) fn refusal(
    t: &Template,
    job: &Job,
    preset: Option<&Preset>,
    today: &str,
) -> Option<String> {
    of_job(t, job, preset).into_iter().find_map(|(path, l)| {
        let what = describe(t, &path, l);
        if let Some(e) = l.expires.as_deref().filter(|e| *e < today) {
            return Some(format!(
                "{what} expired on {e} (today is {today}): renew it or drop the asset"
            ));
        }
        if !l.regions.is_empty() && !l.regions.contains(&job.region) {
            return Some(format!(
                "{what} covers {} only, not {}",
                l.regions.join(", "),
                job.region
            ));
        }
        None
    })
}

/// `licence GI-42 (Getty Images, templates/t.toml:12) of samples/bg/space.jpg`.
pub fn describe(t: &Template, path: &Path, l: &Licence) -> String {
    format!(
        "licence {} ({}, {}) of {}",
        l.id,
        l.holder,
        l.written_at,
        path.strip_prefix(&t.root).unwrap_or(path).display()
    )
}

/// `YYYY-MM-DD` of the UTC day `days` after the one containing `unix`.
pub fn day(unix: i64, days: i64) -> String {
    crate::clock::format_utc(unix + days * 86_400)[..10].to_string()
}
