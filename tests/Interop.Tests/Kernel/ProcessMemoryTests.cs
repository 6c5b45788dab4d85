using System.Runtime.InteropServices;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

public sealed class ProcessMemoryTests
{
    private static readonly int Pid = CurrentProcess.GetProcessId();

    [Fact]
    public void ReadAndWrite_OwnMemory_CopyBytes()
    {
        byte[] target = [1, 2, 3, 4, 5, 6, 7, 8];
        GCHandle pin = GCHandle.Alloc(target, GCHandleType.Pinned);
        try
        {
            ulong address = (ulong)pin.AddrOfPinnedObject();
            var read = new byte[8];
            Assert.Equal(Errno.Success, ProcessMemory.Read(Pid, address, read, out int bytesRead));
            Assert.Equal(8, bytesRead);
            Assert.Equal(target, read);

            Assert.Equal(Errno.Success, ProcessMemory.Write(Pid, address + 2, [42, 43], out int bytesWritten));
            Assert.Equal(2, bytesWritten);
            Assert.Equal(new byte[] { 1, 2, 42, 43, 5, 6, 7, 8 }, target);
        }
        finally
        {
            pin.Free();
        }
    }

    [Fact]
    public void Read_UnmappedAddress_Efault()
    {
        Assert.Equal(Errno.EFAULT, ProcessMemory.Read(Pid, 8, new byte[4], out int read));
        Assert.Equal(0, read);
        Assert.Equal(Errno.EFAULT, ProcessMemory.Write(Pid, 8, [1], out _));
    }

    [Fact]
    public void Read_NoSuchProcess_Esrch()
    {
        Assert.Equal(Errno.ESRCH, ProcessMemory.Read(int.MaxValue, 0x1000, new byte[4], out _));
    }

    [Fact]
    public void Read_EmptyDestination_SucceedsWithoutCall()
    {
        Assert.Equal(Errno.Success, ProcessMemory.Read(int.MaxValue, 0, [], out int read));
        Assert.Equal(0, read);
    }
}
