//! B12, the web page at size: the node's own page (node/web) in real headless Chromium against
//! one release node holding a space of 1k and 100k messages (`--page SIZES`).
//!
//! For each size, a fresh node imports the first messages of the bench's signed space (as B4
//! does) and its own timite joins it; a token is made for that timite; then
//! `node/tests/web/page_bench.mjs` (Node.js and playwright-core) runs `--runs` times in a fresh
//! browser context each: sign in, navigate to the space, load the next [`OLDER_PAGES`] older
//! pages by scrolling the timeline to its top, read the DOM counters and the JS heap, and time
//! [`LIVE_POSTS`] messages posted through the API until the page shows each. Then, with the
//! browser closed, it times the API routes the page reads, [`ROUTE_SAMPLES`] requests each. The
//! script prints its figures as one JSON object ([`ScriptOutput`]); this module summarizes them
//! over runs ([`PageAtSize`]) and prints them with the other scenarios.
//!
//! It runs only when named (`tim testnet bench --only b12`): it needs Node.js, Chromium
//! (`/usr/bin/chromium`, or `TIM_CHROMIUM`) and the npm packages of `node/tests/web` (`npm ci`
//! there), which the other scenarios do not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tim_protocol::api::NewToken;
use tim_protocol::wire::ExportBundle;
use tim_protocol::{Envelope, SpaceId};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::bench::{ms, num, rss_mb, Dist, Goal, Say, Spread, NODE_ARGS};
use crate::{micro, Cluster};

/// B12's space sizes unless `--page` says otherwise.
pub const SIZES: [usize; 2] = [1_000, 100_000];
/// Older pages each browser run loads after opening the space.
pub const OLDER_PAGES: usize = 10;
/// Messages each browser run posts through the API and times until the page shows them.
pub const LIVE_POSTS: usize = 20;
/// Requests per API route timed.
pub const ROUTE_SAMPLES: usize = 20;
/// How long the browser script may run for one size.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(900);
/// Lines of the script's progress kept to explain a failure.
const STDERR_TAIL: usize = 20;

/// The browser script, beside the web end-to-end test whose npm packages it uses.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../node/tests/web/page_bench.mjs")
}

/// What the browser script prints: one object on its standard output.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptOutput {
    /// The browser's version.
    pub chromium: String,
    /// One entry per browser run.
    pub runs: Vec<BrowserRun>,
    /// Each API route the page reads: its name and every request's time (ms).
    pub routes: BTreeMap<String, Vec<f64>>,
}

/// One browser run of the script.
#[derive(Debug, Clone, Deserialize)]
pub struct BrowserRun {
    /// Navigation start → the space's newest message in the timeline (ms, the page's clock).
    pub open_ms: f64,
    /// Navigation start → the answer of the page's request for the latest messages in (none if
    /// the browser kept no timing of it).
    pub open_data_ms: Option<f64>,
    /// The page's work from navigation until it was open and live.
    pub open_work: Work,
    /// Navigation start → the live stream on: every list the page reads for the space is in.
    pub live_on_ms: f64,
    /// Messages in the timeline once opened.
    pub shown_at_open: usize,
    /// Each older page: the scroll to the top → its messages in the timeline.
    pub older: Vec<OlderPage>,
    /// Messages in the timeline after the older pages.
    pub shown_after: usize,
    /// DOM and heap once opened.
    pub open: PageMemory,
    /// DOM and heap after the older pages.
    pub after: PageMemory,
    /// Each live message: just before its `POST` → shown by the page (ms).
    pub live_ms: Vec<f64>,
    /// Errors the page logged to its console, or threw.
    pub errors: Vec<String>,
}

/// One older page loaded by scrolling.
#[derive(Debug, Clone, Deserialize)]
pub struct OlderPage {
    /// The scroll → the page's messages in the timeline (ms).
    pub ms: f64,
    /// Of that, the page's API request, sent → answer in (ms; none if the browser kept no
    /// timing of it).
    pub fetch_ms: Option<f64>,
    /// Messages in the timeline then.
    pub shown: usize,
    /// The page's work for it. (Nested, not flattened: `tim` links serde_json with
    /// `arbitrary_precision`, under which a flattened number does not read as an `f64`.)
    pub work: Work,
}

/// The page's work, by Chromium's counters (`Performance.getMetrics`).
#[derive(Debug, Clone, Deserialize)]
pub struct Work {
    /// Layouts.
    pub layouts: f64,
    /// Time in layout (ms).
    pub layout_ms: f64,
    /// Time recalculating styles (ms).
    pub style_ms: f64,
    /// Time running script (ms).
    pub script_ms: f64,
}

/// The page's DOM counters and JS heap, after a garbage collection.
#[derive(Debug, Clone, Deserialize)]
pub struct PageMemory {
    /// DOM nodes (Chromium's `Memory.getDOMCounters`).
    pub dom_nodes: u64,
    /// JS event listeners.
    pub listeners: u64,
    /// Used JS heap (MB, `Runtime.getHeapUsage`).
    pub heap_mb: f64,
}

/// One API route's answer times.
#[derive(Debug, Clone, Serialize)]
pub struct RouteTime {
    /// The route, as the script names it (`summary`, `members`, `search, no hit`, …).
    pub route: String,
    /// Its answer times (ms).
    pub ms: Dist,
}

/// B12 for one space size: medians and ranges over browser runs.
#[derive(Debug, Clone, Serialize)]
pub struct PageAtSize {
    /// Messages in the space when the page first opened it.
    pub messages: usize,
    /// Import of the space into the node (ms).
    pub import_ms: f64,
    /// The browser measured.
    pub chromium: String,
    /// Browser runs.
    pub runs: usize,
    /// Navigation → the newest message shown (ms).
    pub open_ms: Spread,
    /// Navigation → the latest messages' answer in (ms): the rest of `open_ms` is the page's.
    pub open_data_ms: Spread,
    /// Layouts until open and live.
    pub open_layouts: Spread,
    /// Time in layout until open and live (ms).
    pub open_layout_ms: Spread,
    /// Navigation → the live stream on, every list of the space read (ms).
    pub live_on_ms: Spread,
    /// Messages shown once opened (the last run).
    pub shown_at_open: usize,
    /// Each older page by its rank (1 = the first loaded): scroll → shown (ms).
    pub older_ms: Vec<Spread>,
    /// Every older page of every run (ms).
    pub older: Dist,
    /// Of each, its API request (ms).
    pub older_fetch: Dist,
    /// Layouts per older page (median over every page of every run).
    pub older_layouts: Spread,
    /// Time in layout per older page (ms).
    pub older_layout_ms: Dist,
    /// Messages shown after the older pages (the last run).
    pub shown_after: usize,
    /// DOM nodes once opened.
    pub dom_nodes_open: Spread,
    /// DOM nodes after the older pages.
    pub dom_nodes_after: Spread,
    /// JS heap once opened (MB).
    pub heap_mb_open: Spread,
    /// JS heap after the older pages (MB).
    pub heap_mb_after: Spread,
    /// Live messages, every run: `POST` → shown (ms).
    pub live: Dist,
    /// The API routes the page reads.
    pub routes: Vec<RouteTime>,
    /// The node's RSS after the browser runs and the route timings (MB).
    pub node_rss_mb: f64,
    /// What the page logged as errors, every run.
    pub page_errors: Vec<String>,
}

impl PageAtSize {
    /// The figures of `out` for a space of `messages` messages.
    pub fn of(messages: usize, import_ms: f64, node_rss_mb: f64, out: ScriptOutput) -> Self {
        let runs = &out.runs;
        let over = |f: fn(&BrowserRun) -> f64| Spread::of(runs.iter().map(f));
        let deepest = runs.iter().map(|r| r.older.len()).max().unwrap_or(0);
        let older_ms = (0..deepest)
            .map(|i| Spread::of(runs.iter().filter_map(|r| r.older.get(i).map(|p| p.ms))))
            .collect();
        let pages: Vec<&OlderPage> = runs.iter().flat_map(|r| &r.older).collect();
        let of_pages = |f: fn(&OlderPage) -> Option<f64>| {
            Dist::of(&pages.iter().filter_map(|p| f(p)).collect::<Vec<_>>())
        };
        let every_live: Vec<f64> = runs
            .iter()
            .flat_map(|r| r.live_ms.iter().copied())
            .collect();
        let last = runs.last();
        Self {
            messages,
            import_ms,
            chromium: out.chromium,
            runs: runs.len(),
            open_ms: over(|r| r.open_ms),
            open_data_ms: Spread::of(runs.iter().filter_map(|r| r.open_data_ms)),
            open_layouts: over(|r| r.open_work.layouts),
            open_layout_ms: over(|r| r.open_work.layout_ms),
            live_on_ms: over(|r| r.live_on_ms),
            shown_at_open: last.map_or(0, |r| r.shown_at_open),
            older_ms,
            older: of_pages(|p| Some(p.ms)),
            older_fetch: of_pages(|p| p.fetch_ms),
            older_layouts: Spread::of(pages.iter().map(|p| p.work.layouts)),
            older_layout_ms: of_pages(|p| Some(p.work.layout_ms)),
            shown_after: last.map_or(0, |r| r.shown_after),
            dom_nodes_open: over(|r| r.open.dom_nodes as f64),
            dom_nodes_after: over(|r| r.after.dom_nodes as f64),
            heap_mb_open: over(|r| r.open.heap_mb),
            heap_mb_after: over(|r| r.after.heap_mb),
            live: Dist::of(&every_live),
            routes: out
                .routes
                .iter()
                .map(|(route, samples)| RouteTime {
                    route: route.clone(),
                    ms: Dist::of(samples),
                })
                .collect(),
            node_rss_mb,
            page_errors: runs.iter().flat_map(|r| r.errors.clone()).collect(),
        }
    }
}

/// B12 at each of `sizes`, `runs` browser runs each; a size that fails is recorded in
/// `errors` and the others go on.
pub async fn run(
    exe: &Path,
    sizes: &[usize],
    runs: usize,
    in_process: Arc<dyn micro::InProcess>,
    errors: &mut Vec<String>,
    say: Say<'_>,
) -> Vec<PageAtSize> {
    let Some(&biggest) = sizes.iter().max() else {
        return Vec::new();
    };
    if let Err(e) = ready() {
        errors.push(format!("B12: {e:#}"));
        return Vec::new();
    }
    say(&format!("B12: signing a space of {biggest} messages"));
    let signed = tokio::task::spawn_blocking(move || in_process.signed_space(biggest)).await;
    let (space, envelopes) = match signed {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            errors.push(format!("B12: signing the space: {e:#}"));
            return Vec::new();
        }
        Err(e) => {
            errors.push(format!("B12: signing the space panicked: {e}"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for &m in sizes {
        match at_size(exe, space, &envelopes[..m + 4], m, runs, say).await {
            Ok(p) => out.push(p),
            Err(e) => errors.push(format!("B12 {m} messages: {e:#}")),
        }
    }
    out
}

/// Whether the script and its npm package are where the bench looks.
fn ready() -> Result<()> {
    let script = script();
    if !script.exists() {
        bail!(
            "the browser script is not at {} (B12 runs from a checkout of the repository)",
            script.display()
        );
    }
    let dir = script.parent().expect("the script is in a directory");
    if !dir.join("node_modules/playwright-core").exists() {
        bail!(
            "playwright-core is not installed: run `npm ci` in {}",
            dir.display()
        );
    }
    Ok(())
}

/// B12 for a space of `messages` messages (the first `messages + 4` of the signed space's
/// envelopes).
async fn at_size(
    exe: &Path,
    space: SpaceId,
    envelopes: &[Envelope],
    messages: usize,
    runs: usize,
    say: Say<'_>,
) -> Result<PageAtSize> {
    say(&format!("B12 {messages} messages: import into one node"));
    let mut cluster = Cluster::start_with(exe, 1, None, None, NODE_ARGS).await?;
    let result = on_node(&cluster, space, envelopes, messages, runs, say).await;
    cluster.stop().await;
    result
}

async fn on_node(
    cluster: &Cluster,
    space: SpaceId,
    envelopes: &[Envelope],
    messages: usize,
    runs: usize,
    say: Say<'_>,
) -> Result<PageAtSize> {
    let node = &cluster.nodes[0];
    let bundle = ExportBundle {
        space,
        envelopes: envelopes.to_vec(),
    }
    .encode();
    let t = Instant::now();
    let imported = node.client.import(bundle).await?;
    let import_ms = ms(t.elapsed());
    if imported.applied != envelopes.len() {
        bail!(
            "the node imported {} of {} changes",
            imported.applied,
            envelopes.len()
        );
    }
    // The node's own timite joins, so that the page's person may post; its token is the
    // page's.
    node.client.join(space, vec![], vec![]).await?;
    let did = node.client.me().await?.did;
    let token = node
        .client
        .new_token(&NewToken {
            did,
            label: "page bench".into(),
            ttl_secs: None,
        })
        .await?
        .token;
    say(&format!(
        "B12 {messages} messages: the page in Chromium, {runs} run(s)"
    ));
    let out = browse(node.client.base(), &token, space, runs, say).await?;
    let rss = node.pid().map_or(0.0, rss_mb);
    Ok(PageAtSize::of(messages, import_ms, rss, out))
}

/// Runs the browser script against the node at `base` and reads its figures.
async fn browse(
    base: &str,
    token: &str,
    space: SpaceId,
    runs: usize,
    say: Say<'_>,
) -> Result<ScriptOutput> {
    let script = script();
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .env("TIM_URL", base)
        .env("TIM_TOKEN", token)
        .env("TIM_SPACE", space.to_string())
        .env("TIM_RUNS", runs.to_string())
        .env("TIM_PAGES", OLDER_PAGES.to_string())
        .env("TIM_LIVE", LIVE_POSTS.to_string())
        .env("TIM_SAMPLES", ROUTE_SAMPLES.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run `node` (Node.js 20 or later is needed for B12)")?;
    let mut stdout = child.stdout.take().context("no standard output")?;
    let stderr = child.stderr.take().context("no standard error")?;
    let mut tail: Vec<String> = Vec::new();
    let progress = async {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            say(&format!("B12: {}", line.trim_start_matches("- ")));
            tail.push(line);
            if tail.len() > STDERR_TAIL {
                tail.remove(0);
            }
        }
    };
    let mut text = String::new();
    let read = async {
        let (r, (), status) =
            tokio::join!(stdout.read_to_string(&mut text), progress, child.wait());
        r?;
        anyhow::Ok(status?)
    };
    let status = tokio::time::timeout(SCRIPT_TIMEOUT, read)
        .await
        .with_context(|| {
            format!(
                "the browser script did not finish within {} s",
                SCRIPT_TIMEOUT.as_secs()
            )
        })??;
    if !status.success() {
        bail!("the browser script failed ({status}):\n{}", tail.join("\n"));
    }
    parse(&text)
}

/// The script's figures from its standard output (the last non-empty line).
pub fn parse(stdout: &str) -> Result<ScriptOutput> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("the browser script printed no figures")?;
    serde_json::from_str(line).context("the browser script's figures are not the expected JSON")
}

/// Usable at size, after the RAIL guidelines: a page shown within 1 s, an answer to a scroll
/// within 100 ms, a new message within 100 ms. Judged at the biggest size.
pub fn goals(pages: &[PageAtSize]) -> Vec<Goal> {
    let Some(p) = pages.iter().max_by_key(|p| p.messages) else {
        return Vec::new();
    };
    let at = format!("(measured with {})", p.messages);
    vec![
        Goal {
            scenario: "B12".into(),
            goal: format!("a space opens on the page (newest message shown) in < 1 s {at}"),
            measured: p.open_ms.show("ms"),
            met: p.messages >= 100_000 && p.open_ms.median < 1000.0,
        },
        Goal {
            scenario: "B12".into(),
            goal: format!("an older page shows < 100 ms after the scroll (p99) {at}"),
            measured: format!("p50 {} ms, p99 {} ms", num(p.older.p50), num(p.older.p99)),
            met: p.messages >= 100_000 && p.older.n > 0 && p.older.p99 < 100.0,
        },
        Goal {
            scenario: "B12".into(),
            goal: format!("a posted message shows on the page < 100 ms (p99) {at}"),
            measured: format!("p50 {} ms, p99 {} ms", num(p.live.p50), num(p.live.p99)),
            met: p.messages >= 100_000 && p.live.n > 0 && p.live.p99 < 100.0,
        },
    ]
}

/// The figures as terminal text (nothing if B12 did not run).
pub fn table(pages: &[PageAtSize]) -> String {
    let Some(first) = pages.first() else {
        return String::new();
    };
    let mut o = format!(
        "\nB12 the web page at size (one node; Chromium {}, {} browser run(s) per size)\n",
        first.chromium, first.runs
    );
    o += "  messages  import ms  open: newest shown   (its data in)        live stream on       older page p50/p99/max ms  live msg p50/p99/max ms  node RSS MB\n";
    for p in pages {
        o += &format!(
            "  {:<9} {:<10} {:<20} {:<20} {:<20} {:<26} {:<24} {:.0}\n",
            p.messages,
            num(p.import_ms),
            p.open_ms.show("ms"),
            p.open_data_ms.show("ms"),
            p.live_on_ms.show("ms"),
            format!(
                "{} / {} / {}",
                num(p.older.p50),
                num(p.older.p99),
                num(p.older.max)
            ),
            format!(
                "{} / {} / {}",
                num(p.live.p50),
                num(p.live.p99),
                num(p.live.max)
            ),
            p.node_rss_mb
        );
    }
    o += "  messages  shown (open → after)  DOM nodes (open → after)   JS heap MB (open → after)\n";
    for p in pages {
        o += &format!(
            "  {:<9} {:<21} {:<26} {} → {}\n",
            p.messages,
            format!("{} → {}", p.shown_at_open, p.shown_after),
            format!(
                "{} → {}",
                p.dom_nodes_open.show(""),
                p.dom_nodes_after.show("")
            ),
            p.heap_mb_open.show(""),
            p.heap_mb_after.show("")
        );
    }
    o += "  messages  page's work: layouts, layout ms to open   older page: its request p50/p99 ms  layouts  layout p50/p99 ms\n";
    for p in pages {
        o += &format!(
            "  {:<9} {:<41} {:<35} {:<8} {} / {}\n",
            p.messages,
            format!("{}, {}", p.open_layouts.show(""), p.open_layout_ms.show("")),
            format!("{} / {}", num(p.older_fetch.p50), num(p.older_fetch.p99)),
            num(p.older_layouts.median),
            num(p.older_layout_ms.p50),
            num(p.older_layout_ms.p99)
        );
    }
    for p in pages {
        o += &format!(
            "  {} messages, each older page by rank (median ms): {}\n",
            p.messages,
            p.older_ms
                .iter()
                .map(|s| num(s.median))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    o += "  API route (ms)                   ";
    for p in pages {
        o += &format!("{:<24}", format!("{} msgs p50/p99/max", p.messages));
    }
    o += "\n";
    for r in &first.routes {
        o += &format!("  {:<32} ", r.route);
        for p in pages {
            let cell = p.routes.iter().find(|x| x.route == r.route).map_or_else(
                || "-".to_string(),
                |x| format!("{} / {} / {}", num(x.ms.p50), num(x.ms.p99), num(x.ms.max)),
            );
            o += &format!("{cell:<24}");
        }
        o += "\n";
    }
    for p in pages.iter().filter(|p| !p.page_errors.is_empty()) {
        o += &format!(
            "  {} messages: the page logged {} error(s), the first: {}\n",
            p.messages,
            p.page_errors.len(),
            p.page_errors[0]
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"{"chromium":"140.0.1","runs":[
        {"open_ms":120.5,"open_data_ms":80,"live_on_ms":300,"shown_at_open":50,
         "open_work":{"layouts":60,"layout_ms":40,"style_ms":12,"script_ms":19},
         "older":[{"ms":30,"fetch_ms":10,"shown":100,"scroll_top":900,"work":{"layouts":52,"layout_ms":11,"style_ms":3,"script_ms":2}},
                  {"ms":50,"fetch_ms":null,"shown":150,"scroll_top":900,"work":{"layouts":52,"layout_ms":14,"style_ms":5,"script_ms":2}}],
         "shown_after":150,"open":{"dom_nodes":900,"listeners":70,"heap_mb":2.5},
         "after":{"dom_nodes":2100,"listeners":170,"heap_mb":3.5},"live_ms":[5,7,9],"errors":[]},
        {"open_ms":100,"open_data_ms":null,"live_on_ms":280,"shown_at_open":50,
         "open_work":{"layouts":58,"layout_ms":35,"style_ms":12,"script_ms":19},
         "older":[{"ms":20,"fetch_ms":8,"shown":100,"scroll_top":900,"work":{"layouts":2,"layout_ms":1,"style_ms":3,"script_ms":2}}],
         "shown_after":100,"open":{"dom_nodes":880,"listeners":70,"heap_mb":2.4},
         "after":{"dom_nodes":1500,"listeners":120,"heap_mb":3.0},"live_ms":[6],"errors":["boom"]}],
        "routes":{"summary":[1,2,3],"search, no hit":[40,60]}}"#;

    #[test]
    fn the_scripts_figures_are_read_and_summarized_over_runs() {
        let out = parse(&format!("some noise\n{}\n\n", OUTPUT.replace('\n', ""))).unwrap();
        assert_eq!(out.runs.len(), 2);
        let p = PageAtSize::of(100_000, 7000.0, 300.0, out);
        assert_eq!(
            (p.runs, p.messages, p.chromium.as_str()),
            (2, 100_000, "140.0.1")
        );
        assert_eq!((p.open_ms.min, p.open_ms.max), (100.0, 120.5));
        // Page 1 of both runs, page 2 of the first only.
        assert_eq!(p.older_ms.len(), 2);
        assert_eq!((p.older_ms[0].min, p.older_ms[0].max), (20.0, 30.0));
        assert_eq!(p.older_ms[1].median, 50.0);
        assert_eq!((p.older.n, p.older.max), (3, 50.0));
        // A page without a timing of its request counts in the pages, not in the requests.
        assert_eq!((p.older_fetch.n, p.older_fetch.max), (2, 10.0));
        assert_eq!(
            (p.older_layouts.median, p.older_layout_ms.max),
            (52.0, 14.0)
        );
        assert_eq!((p.open_data_ms.min, p.open_data_ms.max), (80.0, 80.0));
        assert_eq!(p.open_layouts.median, 60.0);
        assert_eq!((p.live.n, p.live.p50, p.live.max), (4, 7.0, 9.0));
        assert_eq!((p.shown_at_open, p.shown_after), (50, 100));
        assert_eq!(p.dom_nodes_after.max, 2100.0);
        assert_eq!(p.heap_mb_open.min, 2.4);
        // Routes by name, in the script's order of names.
        let routes: Vec<(&str, usize)> = p
            .routes
            .iter()
            .map(|r| (r.route.as_str(), r.ms.n))
            .collect();
        assert_eq!(routes, [("search, no hit", 2), ("summary", 3)]);
        assert_eq!(p.page_errors, ["boom"]);
        let text = table(&[p]);
        assert!(text.contains("B12 the web page at size"), "{text}");
        assert!(text.contains("search, no hit"), "{text}");
    }

    #[test]
    fn b12_runs_only_when_named() {
        use crate::bench::{Options, Scenario};
        assert_eq!("b12".parse::<Scenario>(), Ok(Scenario::Page));
        assert_eq!("Page".parse::<Scenario>(), Ok(Scenario::Page));
        assert!(!Scenario::ALL.contains(&Scenario::Page));
        assert_eq!(Options::full().page, SIZES);
    }

    #[test]
    fn output_that_is_not_the_figures_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("{\"runs\": 3}\n").is_err());
        assert!(parse("FAIL: no\n").is_err());
    }
}
