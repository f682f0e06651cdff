//! orderhook-loadtest: signed webhooks in, deliveries counted out.
//!
//! A run registers its tenants through the operator API, pointing each at a
//! sink of its own, measures a baseline against `GET /health/live`, offers
//! the ingest load, waits for every acknowledged event to be delivered, and
//! reconciles what the server acknowledged against what the sink received.

pub mod load;
pub mod options;
pub mod payload;
pub mod providers;
pub mod reconcile;
pub mod report;
pub mod rss;
pub mod sink;
pub mod tenants;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

pub use options::{Model, Options};
pub use report::Report;

use crate::load::{Counters, Generator};
use crate::report::Percentiles;
use crate::rss::RssWatch;
use crate::sink::{Behaviour, Sink};
use crate::tenants::{Api, Setup, Tenant};

/// How often the drain rereads what has arrived and what the server still holds.
const DRAIN_POLL: Duration = Duration::from_millis(200);

pub async fn run(options: Options) -> anyhow::Result<Report> {
    options.validate()?;
    let target = options.target.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&target).context("--target is not a URL")?;
    let authority = format!(
        "{}:{}",
        url.host_str().context("--target has no host")?,
        url.port_or_known_default()
            .context("--target has no port")?
    );
    let model = options.model();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        // Idle connections close soon, so the server's memory after the run
        // is its own and not the buffers of connections we keep open.
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()?;
    let sink = Sink::start(Behaviour {
        fail_rate: options.sink_fail_rate,
        delay: options.sink_delay,
        down_tenants: options.down_tenants,
    })
    .await?;
    let run_id: u32 = rand::random();
    let api = Arc::new(Api {
        client: client.clone(),
        target: target.clone(),
        admin_token: options.admin_token.clone(),
    });
    say(
        &options,
        &format!(
            "registering {} tenants ({} idle) on {target}",
            options.tenants + options.idle_tenants,
            options.idle_tenants
        ),
    );
    let tenants = tenants::register(
        &api,
        &sink,
        Setup {
            run: run_id,
            lift_rate_limits: !options.keep_rate_limits,
        },
        options.tenants,
        options.idle_tenants,
    )
    .await?;
    let rss = RssWatch::start(options.server_pid);

    let baseline = match options.baseline_duration() {
        d if d.is_zero() => None,
        duration => {
            let baseline = Arc::new(Generator {
                client: client.clone(),
                target: target.clone(),
                authority: authority.clone(),
                run: run_id,
                tenants: Vec::new(),
                abandon_rate: 0.0,
                counters: Counters::new(),
            });
            say(
                &options,
                &format!("baseline: GET /health/live for {duration:?}"),
            );
            let g = baseline.clone();
            let offered = load::drive(model, duration, move |_, started| {
                let g = g.clone();
                async move { g.live(started).await }
            })
            .await;
            let per_sec =
                baseline.counters.accepted.load(Ordering::Relaxed) as f64 / offered.as_secs_f64();
            Some((per_sec, Percentiles::from_us(&baseline.counters.latency())))
        }
    };
    let baseline_per_sec = baseline.as_ref().map(|(per_sec, _)| *per_sec);

    let generator = Arc::new(Generator {
        client,
        target: target.clone(),
        authority,
        run: run_id,
        tenants,
        abandon_rate: options.abandon_rate,
        counters: Counters::new(),
    });
    say(&options, &format!("ingest for {:?}", options.duration));
    if let Some(after) = options.sink_fail_for {
        sink.recover_after(after);
    }
    let progress =
        (!options.quiet).then(|| tokio::spawn(progress(generator.clone(), sink.clone())));
    let g = generator.clone();
    let offered = load::drive(model, options.duration, move |n, started| {
        let g = g.clone();
        async move { g.ingest(n, started).await }
    })
    .await;

    let accepted = generator.counters.take_accepted();
    let drain_started = Instant::now();
    let deadline = drain_started + options.drain_timeout;
    wait_for_arrivals(&sink, &accepted, options.down_tenants, deadline).await;
    let orphaned =
        wait_for_empty_backlogs(&api, &generator.tenants, options.down_tenants, deadline).await?;
    let drain = drain_started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
    }
    if !options.idle_after.is_zero() {
        say(
            &options,
            &format!("idle for {:?}, watching memory", options.idle_after),
        );
        tokio::time::sleep(options.idle_after).await;
    }

    let (reconciliation, e2e) =
        reconcile::reconcile(&accepted, &sink.arrivals(), options.down_tenants);
    let counters = &generator.counters;
    let accepted_count = counters.accepted.load(Ordering::Relaxed);
    let accepted_per_sec = accepted_count as f64 / offered.as_secs_f64();
    let mut report = Report {
        run_id: format!("lt{run_id:08x}"),
        target,
        model: match model {
            Model::Open { .. } => "open",
            Model::Closed { .. } => "closed",
        },
        rate: options.rate,
        connections: match model {
            Model::Closed { connections } => Some(connections),
            Model::Open { .. } => None,
        },
        tenants: options.tenants,
        idle_tenants: options.idle_tenants,
        duration_s: offered.as_secs_f64(),
        sent: counters.sent.load(Ordering::Relaxed),
        accepted: accepted_count,
        rejected: counters.rejected.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        abandoned: counters.abandoned.load(Ordering::Relaxed),
        statuses: counters.statuses(),
        accepted_per_sec,
        baseline_per_sec,
        ratio: baseline_per_sec
            .filter(|b| *b > 0.0)
            .map(|b| accepted_per_sec / b),
        baseline_latency_ms: baseline.map(|(_, latency)| latency),
        ingest_latency_ms: Percentiles::from_us(&counters.latency()),
        e2e_latency_ms: Percentiles::from_us(&e2e),
        reconciliation,
        orphaned,
        sink_attempts: sink.attempts(),
        sink_malformed: sink.malformed(),
        drain_s: drain.as_secs_f64(),
        server_rss_start_mb: None,
        server_peak_rss_mb: None,
        server_rss_end_mb: None,
        passed: false,
    };
    report.set_rss(rss.now());
    report.judge();
    if !options.quiet {
        println!("{}", report.summary());
    }
    if let Some(path) = &options.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

fn say(options: &Options, line: &str) {
    if !options.quiet {
        eprintln!("{line}");
    }
}

/// Until every acknowledged event (of tenants expected up) has arrived, or the deadline.
async fn wait_for_arrivals(
    sink: &Sink,
    accepted: &[load::Accepted],
    down_tenants: usize,
    deadline: Instant,
) {
    loop {
        let delivered: HashSet<_> = sink.arrivals().iter().map(|a| a.order).collect();
        let outstanding = reconcile::outstanding(accepted, &delivered, down_tenants);
        if outstanding == 0 || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// Until the server holds nothing undelivered for tenants expected up (events
/// it committed although the provider never read the answer included), or
/// the deadline. Returns what is left.
async fn wait_for_empty_backlogs(
    api: &Api,
    tenants: &[Tenant],
    down_tenants: usize,
    deadline: Instant,
) -> anyhow::Result<u64> {
    let mut waiting: Vec<&Tenant> = tenants.iter().filter(|t| t.index >= down_tenants).collect();
    loop {
        let mut left = 0;
        let mut still = Vec::new();
        for tenant in waiting {
            let depth = api.queue_depth(tenant).await?;
            if depth > 0 {
                left += depth;
                still.push(tenant);
            }
        }
        if left == 0 || Instant::now() >= deadline {
            return Ok(left);
        }
        waiting = still;
        tokio::time::sleep(DRAIN_POLL).await;
    }
}

/// A line a second: what has been sent, accepted and delivered.
async fn progress(generator: Arc<Generator>, sink: Sink) {
    let started = Instant::now();
    let mut last_accepted = 0;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let counters = &generator.counters;
        let accepted = counters.accepted.load(Ordering::Relaxed);
        eprintln!(
            "{:>5.1}s  sent {:>8}  accepted {:>8} ({:>6}/s)  rejected {:>6}  errors {:>6}  delivered {:>8}",
            started.elapsed().as_secs_f64(),
            counters.sent.load(Ordering::Relaxed),
            accepted,
            accepted - last_accepted,
            counters.rejected.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
            sink.delivered(),
        );
        last_accepted = accepted;
    }
}
