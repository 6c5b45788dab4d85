using System.Diagnostics;
using System.Globalization;

namespace Istio.AppSwitch.Tests.Fuzzing;

/// <summary>What one fuzz case may cost: wall time, and bytes allocated on the test thread beyond the input's size.</summary>
/// <param name="Time">The most one case may take (on a loaded two-core machine, so generous).</param>
/// <param name="FixedBytes">Allocation allowed whatever the input.</param>
/// <param name="BytesPerInputByte">Allocation allowed per byte of input.</param>
public sealed record FuzzBudget(TimeSpan Time, long FixedBytes, long BytesPerInputByte)
{
    /// <summary>The allocation allowed for an input of <paramref name="inputLength"/> bytes.</summary>
    public long BytesFor(int inputLength) => FixedBytes + (BytesPerInputByte * inputLength);
}

/// <summary>
/// Runs a fixed number of seeded fuzz cases. Each case gets its own <see cref="Random"/>, derived from the run's seed
/// and the case number, so one failing case reproduces alone: the failure names the seed and the case, and
/// <c>AX_FUZZ_SEED</c> replays the run. <c>AX_FUZZ_CASES</c> raises the number of cases for a long run.
/// </summary>
public static class FuzzDriver
{
    /// <summary><paramref name="defaultCases"/>, or <c>AX_FUZZ_CASES</c> when that is set and larger.</summary>
    public static int Cases(int defaultCases) =>
        int.TryParse(Environment.GetEnvironmentVariable("AX_FUZZ_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out var cases)
            && cases > defaultCases
            ? cases
            : defaultCases;

    /// <summary><paramref name="defaultSeed"/>, or <c>AX_FUZZ_SEED</c> when that is set.</summary>
    public static int Seed(int defaultSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable("AX_FUZZ_SEED"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed)
            ? seed
            : defaultSeed;

    /// <summary>The random source of case <paramref name="caseNumber"/> of the run seeded with <paramref name="seed"/>.</summary>
    public static Random CaseRandom(int seed, int caseNumber) => new(unchecked((seed * 1_000_003) + caseNumber));

    /// <summary>
    /// Runs <paramref name="cases"/> synchronous cases. <paramref name="makeInput"/> draws the input from the case's
    /// random source; <paramref name="check"/> runs the target on it and asserts. The time and the bytes allocated on
    /// this thread by <paramref name="check"/> are held to <paramref name="budget"/>.
    /// </summary>
    public static void Run<T>(
        string name, int seed, int cases, FuzzBudget budget,
        Func<Random, T> makeInput, Func<T, int> inputLength, Func<T, string> describe, Action<T> check)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ArgumentNullException.ThrowIfNull(makeInput);
        ArgumentNullException.ThrowIfNull(inputLength);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(check);
        for (var i = 0; i < cases; i++)
        {
            var input = makeInput(CaseRandom(seed, i));
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var started = Stopwatch.GetTimestamp();
            try
            {
                check(input);
            }
            catch (Exception ex)
            {
                throw Failure(name, seed, i, describe(input), ex.GetType().Name + ": " + ex.Message, ex);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            var length = inputLength(input);
            if (elapsed > budget.Time)
            {
                throw Failure(name, seed, i, describe(input), $"took {elapsed.TotalMilliseconds:F0} ms, over the {budget.Time.TotalMilliseconds:F0} ms budget", null);
            }

            if (allocated > budget.BytesFor(length))
            {
                throw Failure(name, seed, i, describe(input), $"allocated {allocated} bytes for {length} bytes of input, over the budget of {budget.BytesFor(length)}", null);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="cases"/> asynchronous cases, each under a <see cref="CancellationToken"/> that fires after
    /// <paramref name="timePerCase"/>: a case that hangs fails with its seed instead of stalling the suite.
    /// </summary>
    public static async Task RunAsync<T>(
        string name, int seed, int cases, TimeSpan timePerCase,
        Func<Random, T> makeInput, Func<T, string> describe, Func<T, CancellationToken, Task> check)
    {
        ArgumentNullException.ThrowIfNull(makeInput);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(check);
        for (var i = 0; i < cases; i++)
        {
            var input = makeInput(CaseRandom(seed, i));
            using var timeout = new CancellationTokenSource(timePerCase);
            try
            {
                await check(input, timeout.Token).WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
            {
                throw Failure(name, seed, i, describe(input), $"did not finish within {timePerCase.TotalSeconds:F0} s", ex);
            }
            catch (Exception ex)
            {
                throw Failure(name, seed, i, describe(input), ex.GetType().Name + ": " + ex.Message, ex);
            }
        }
    }

    private static FuzzFailureException Failure(string name, int seed, int caseNumber, string input, string what, Exception? inner)
    {
        if (input.Length > 2000)
        {
            input = string.Concat(input.AsSpan(0, 2000), "...");
        }

        return new FuzzFailureException(
            $"{name}: case {caseNumber} of seed {seed} (replay with AX_FUZZ_SEED={seed}) {what}\ninput: {input}", inner);
    }
}

/// <summary>A fuzz case failed; the message carries the seed, the case number and the input.</summary>
public sealed class FuzzFailureException(string message, Exception? inner) : Exception(message, inner);
