import Glibc
import Kale

/// The CPU load knob of `reports.pdf`: a Monte Carlo simulation of random walks that runs
/// for a given amount of CPU time and whose histogram the report then charts.
///
/// It exists so benchmarks can ask for "a report that costs 2 s of CPU" on any machine:
/// the budget is measured in CPU time, not wall time, so a busy machine stretches the run
/// instead of shrinking the work.
struct Simulation {
    /// Final positions of the walks, counted in ``binCount`` bins.
    var histogram: [Int]
    var walks: Int
    var cpuMilliseconds: Double

    static let steps = 1_000
    static let binCount = 51

    /// Runs walks until `cpuMilliseconds` of this process's CPU time have been spent.
    ///
    /// The process's clock, not the thread's: the task may resume on another thread after
    /// each await. A pool child runs one task at a time, so the process clock is the task's.
    /// - Throws: ``TaskFailure`` when the task is asked to stop.
    static func run(cpuMilliseconds budget: Int, context: TaskContext, progress: ClosedRange<Double>) async throws -> Simulation {
        let start = cpuTime()
        var histogram = [Int](repeating: 0, count: binCount)
        var walks = 0
        var state: UInt64 = 0x2545_F491_4F6C_DD1D ^ UInt64(truncatingIfNeeded: context.id.hashValue)
        var nextReport = 0.1
        while true {
            let used = (cpuTime() - start) * 1000
            if used >= Double(budget) { return Simulation(histogram: histogram, walks: walks, cpuMilliseconds: used) }
            for _ in 0..<50 {
                var position = 0
                var bits: UInt64 = 0
                for step in 0..<steps {
                    if step & 63 == 0 {
                        // xorshift64: fast, and good enough to draw coin flips from.
                        state ^= state << 13
                        state ^= state >> 7
                        state ^= state << 17
                        bits = state
                    }
                    position += (bits & 1) == 0 ? -1 : 1
                    bits >>= 1
                }
                // Final positions of a 1000-step walk are even and fall within ±100 almost
                // always: bins of 4 hold two possible positions each, so no bin is favoured.
                let bin = min(max((position + 100) / 4, 0), binCount - 1)
                histogram[bin] += 1
                walks += 1
            }
            try context.checkCancellation()
            let fraction = used / Double(max(budget, 1))
            if fraction >= nextReport {
                nextReport += 0.1
                let p = progress.lowerBound + (progress.upperBound - progress.lowerBound) * fraction
                await context.reportProgress(p, message: "simulating (\(Int(fraction * 100))%)")
            }
        }
    }

    /// CPU seconds this process has used.
    static func cpuTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
