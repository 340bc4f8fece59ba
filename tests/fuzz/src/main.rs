//! `sluice-fuzz`: the long fuzzing run (see the crate docs and host-sim's
//! README, "Fuzzing").
//!
//! The cases run in worker processes this one starts and watches: a worker
//! prints a line when a case starts and one when it ends, so a worker that
//! aborts (a stack overflow, an allocation failure, a panic under
//! `panic = "abort"`) or stops answering is reported with the seed it was
//! running, and a new worker goes on from the next seed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sluice_fuzz::{Kind, run_case, run_cases};

const USAGE: &str = "\
usage: sluice-fuzz [--kind guests|sdk|scenarios|all] [--seed N] [--cases M]
                   [--host-calls H] [--jobs J] [--timeout SECONDS] [--in-process]

Runs fuzzing cases deterministically from seed N: M cases per kind (default
1000), or, with --host-calls, as many as it takes to make H host calls (kinds
that make host calls). Prints cases per second, host calls made and every
failing seed; replay one with `--kind KIND --seed SEED --cases 1`.

options:
  --kind K        guests (hostile guests in host-sim), sdk (random host replies
                  into the SDK), scenarios (malformed scenario files), or all
                  (default)
  --seed N        the first seed (default 1)
  --cases M       cases per kind
  --host-calls H  run each kind until its cases made H host calls
  --jobs J        worker processes (default 1)
  --timeout S     a case running longer than S seconds is a hang (default 120)
  --in-process    run the cases in this process (no hang or abort detection)

`sluice-fuzz --show-scenario SEED` prints the scenario file of a scenarios case.

exit codes: 0 no case failed, 1 a case failed, 2 usage error
";

struct Args {
    kinds: Vec<Kind>,
    seed: u64,
    cases: Option<u64>,
    host_calls: Option<u64>,
    jobs: u64,
    timeout: Duration,
    in_process: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        kinds: Kind::ALL.to_vec(),
        seed: 1,
        cases: None,
        host_calls: None,
        jobs: 1,
        timeout: Duration::from_secs(120),
        in_process: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: &String| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--kind" => {
                let v = value()?;
                parsed.kinds = match v.as_str() {
                    "all" => Kind::ALL.to_vec(),
                    name => vec![Kind::from_name(name).ok_or_else(|| format!("unknown kind {name:?}"))?],
                }
            }
            "--seed" => parsed.seed = number(value()?)?,
            "--cases" => parsed.cases = Some(number(value()?)?),
            "--host-calls" => parsed.host_calls = Some(number(value()?)?),
            "--jobs" => parsed.jobs = number(value()?)?.max(1),
            "--timeout" => parsed.timeout = Duration::from_secs(number(value()?)?),
            "--in-process" => parsed.in_process = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--worker") {
        return worker(&args[1..]);
    }
    if let [flag, seed] = &args[..]
        && flag == "--show-scenario"
        && let Ok(seed) = seed.parse()
    {
        // The mutated file of a scenarios case, to read a failure.
        let _ = std::io::stdout().write_all(&sluice_fuzz::scenarios::case_text(seed));
        sluice_fuzz::scenarios::cleanup();
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&args) {
        Ok(args) => args,
        Err(e) => {
            eprint!("sluice-fuzz: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for &kind in &args.kinds {
        // Kinds that make no host calls run by case count.
        let host_calls = args.host_calls.filter(|_| kind != Kind::Scenarios);
        let cases = args.cases.unwrap_or(if host_calls.is_some() { u64::MAX } else { 1000 });
        let start = Instant::now();
        let run = if args.in_process {
            let summary = run_cases(kind, args.seed, cases);
            sluice_fuzz::scenarios::cleanup();
            Run { cases: summary.cases, host_calls: summary.host_calls, failures: summary.failures, memory: None }
        } else {
            supervise(kind, &args, cases, host_calls)
        };
        report(kind, &run, start.elapsed());
        failed |= !run.failures.is_empty();
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// What the workers of one kind did.
struct Run {
    cases: u64,
    host_calls: u64,
    failures: Vec<(u64, String)>,
    /// Resident memory of a worker (kB): after its first cases, and at its last report.
    memory: Option<(u64, u64)>,
}

fn report(kind: Kind, run: &Run, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{}: {} cases in {:.1} s ({:.1} cases/s), {} host calls ({:.0} host calls/s), {} failing seed(s)",
        kind.name(),
        run.cases,
        seconds,
        run.cases as f64 / seconds,
        run.host_calls,
        run.host_calls as f64 / seconds,
        run.failures.len()
    );
    if let Some((early, late)) = run.memory {
        println!(
            "  worker resident memory: {} MiB after its first cases, {} MiB at the end",
            early / 1024,
            late / 1024
        );
    }
    for (seed, why) in &run.failures {
        println!("  FAIL {} seed {seed}: {why}", kind.name());
        println!("       replay: cargo run --release -p sluice-fuzz -- --kind {} --seed {seed} --cases 1", kind.name());
    }
}

/// One line from a worker.
enum Event {
    Start(u64),
    Done { seed: u64, host_calls: u64, failure: Option<String> },
    Memory(u64),
    Stderr(String),
    End,
}

fn parse_line(line: &str) -> Option<Event> {
    let mut parts = line.splitn(4, ' ');
    match parts.next()? {
        "start" => Some(Event::Start(parts.next()?.parse().ok()?)),
        "done" => {
            let seed = parts.next()?.parse().ok()?;
            let host_calls = parts.next()?.parse().ok()?;
            let failure = parts.next().map(|f| f.replace("\\n", "\n"));
            Some(Event::Done { seed, host_calls, failure })
        }
        "rss" => Some(Event::Memory(parts.next()?.parse().ok()?)),
        _ => None,
    }
}

/// A worker process and what the supervisor knows of it.
struct Worker {
    child: Child,
    /// The seed it runs now, since when.
    running: Option<(u64, Instant)>,
    /// The next seed it would take.
    next: u64,
    /// Its last lines on stderr (a panic message before an abort).
    stderr: Vec<String>,
    done: bool,
    /// How many processes it had: events of an earlier one are ignored.
    generation: u64,
}

impl Worker {
    /// Starts the worker's next process at `self.next`, unless it is past the end.
    fn respawn(&mut self, kind: Kind, end: u64, step: u64, index: usize, events: &mpsc::Sender<(Source, Event)>) {
        self.running = None;
        self.stderr.clear();
        if self.next < end {
            self.generation += 1;
            self.child = spawn(kind, self.next, end, step, (index, self.generation), events);
        } else {
            self.done = true;
        }
    }
}

/// Which worker (and which process of it) an event is from.
type Source = (usize, u64);

fn spawn(kind: Kind, first: u64, end: u64, step: u64, from: Source, events: &mpsc::Sender<(Source, Event)>) -> Child {
    let exe = std::env::current_exe().expect("the path of this program");
    let mut child = Command::new(exe)
        .args(["--worker", kind.name(), &first.to_string(), &end.to_string(), &step.to_string()])
        // A long run compiles a module per case: keep them out of
        // wasmtime's on-disk cache.
        .env("HOST_SIM_NO_DISK_CACHE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("a worker process starts");
    let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let tx = events.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(event) = parse_line(&line)
                && tx.send((from, event)).is_err()
            {
                return;
            }
        }
        let _ = tx.send((from, Event::End));
    });
    let tx = events.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send((from, Event::Stderr(line))).is_err() {
                return;
            }
        }
    });
    child
}

fn supervise(kind: Kind, args: &Args, cases: u64, host_calls: Option<u64>) -> Run {
    let (tx, rx) = mpsc::channel();
    let end = args.seed.saturating_add(cases);
    let step = args.jobs;
    let mut workers: Vec<Worker> = (0..step)
        .map(|j| {
            let first = args.seed + j;
            Worker {
                child: spawn(kind, first, end, step, (j as usize, 0), &tx),
                running: None,
                next: first,
                stderr: Vec::new(),
                done: first >= end,
                generation: 0,
            }
        })
        .collect();
    let mut run = Run { cases: 0, host_calls: 0, failures: Vec::new(), memory: None };
    let mut last_progress = Instant::now();
    let enough = |run: &Run| host_calls.is_some_and(|h| run.host_calls >= h);
    while !workers.iter().all(|w| w.done) && !enough(&run) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(((index, generation), event)) => {
                let w = &mut workers[index];
                if generation != w.generation {
                    continue;
                }
                match event {
                    Event::Start(seed) => w.running = Some((seed, Instant::now())),
                    Event::Done { seed, host_calls, failure } => {
                        w.running = None;
                        w.next = seed + step;
                        run.cases += 1;
                        run.host_calls += host_calls;
                        if let Some(failure) = failure {
                            run.failures.push((seed, failure));
                        }
                    }
                    Event::Memory(kb) => {
                        run.memory = Some((run.memory.map_or(kb, |(early, _)| early), kb));
                    }
                    Event::Stderr(line) => {
                        w.stderr.push(line);
                        if w.stderr.len() > 20 {
                            w.stderr.remove(0);
                        }
                    }
                    Event::End => {
                        let status = w.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                        match w.running.take() {
                            Some((seed, _)) => {
                                let why = format!("the worker died ({status}): {}", w.stderr.join(" | "));
                                run.failures.push((seed, why));
                                run.cases += 1;
                                w.next = seed + step;
                                w.respawn(kind, end, step, index, &tx);
                            }
                            None => w.done = true,
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        for (index, w) in workers.iter_mut().enumerate() {
            if let Some((seed, since)) = w.running
                && since.elapsed() > args.timeout
            {
                let _ = w.child.kill();
                let _ = w.child.wait();
                run.failures.push((seed, format!("a hang: still running after {} s", args.timeout.as_secs())));
                run.cases += 1;
                w.next = seed + step;
                w.respawn(kind, end, step, index, &tx);
            }
        }
        if last_progress.elapsed() > Duration::from_secs(30) {
            last_progress = Instant::now();
            eprintln!("sluice-fuzz: {}: {} cases, {} host calls so far", kind.name(), run.cases, run.host_calls);
        }
    }
    for w in &mut workers {
        let _ = w.child.kill();
        let _ = w.child.wait();
    }
    run
}

/// The current resident memory of this process, in kB (Linux).
fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `--worker KIND FIRST END STEP`: runs seeds FIRST, FIRST+STEP, ... below
/// END, one `start`/`done` line pair each, and `rss` lines now and then.
fn worker(args: &[String]) -> ExitCode {
    let (Some(kind), Some(first), Some(end), Some(step)) = (
        args.first().and_then(|k| Kind::from_name(k)),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
        args.get(2).and_then(|n| n.parse::<u64>().ok()),
        args.get(3).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("sluice-fuzz: usage: --worker KIND FIRST END STEP");
        return ExitCode::from(2);
    };
    let mut out = std::io::stdout().lock();
    let mut seed = first;
    let mut done = 0u64;
    while seed < end {
        let _ = writeln!(out, "start {seed}");
        let _ = out.flush();
        let outcome = run_case(kind, seed);
        let _ = match outcome.failure {
            Some(why) => writeln!(out, "done {seed} {} {}", outcome.host_calls, why.replace('\n', "\\n")),
            None => writeln!(out, "done {seed} {}", outcome.host_calls),
        };
        done += 1;
        if (done == 256 || done.is_multiple_of(4096))
            && let Some(kb) = resident_kb()
        {
            let _ = writeln!(out, "rss {kb}");
        }
        let _ = out.flush();
        seed = match seed.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    sluice_fuzz::scenarios::cleanup();
    ExitCode::SUCCESS
}
