namespace Istio.AppSwitch.Grpc.Tests.Support;

/// <summary>Bounds for waits in tests: long enough never to fail a healthy run, short enough to end a hung one.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    /// <summary>Awaits <paramref name="task"/>, failing the test if it takes longer than <see cref="Default"/>.</summary>
    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Default);

    /// <inheritdoc cref="Within{T}(Task{T})"/>
    public static Task Within(this Task task) => task.WaitAsync(Default);
}
