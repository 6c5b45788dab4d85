using System.Buffers.Binary;

namespace Istio.AppSwitch.Interop.Tests;

public sealed class SeccompFilterProgramTests
{
    private const ushort LoadWordAbsolute = 0x20;
    private const ushort JumpIfEqual = 0x15;
    private const ushort JumpIfSet = 0x45;
    private const ushort Return = 0x06;
    private const uint AuditArchX86_64 = 0xC000003E;
    private const uint KillProcess = 0x80000000;
    private const uint Allow = 0x7fff0000;
    private const uint UserNotif = 0x7fc00000;

    private readonly record struct Instruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

    [Fact]
    public void BuildFilterProgram_ConnectAndGetPeerName_DecodesToArchCheckX32CheckOneJeqEachThenReturns()
    {
        Instruction[] program = Decode(Seccomp.BuildFilterProgram([SyscallNumbers.Connect, SyscallNumbers.GetPeerName]));

        Assert.Equal(
            [
                new(LoadWordAbsolute, 0, 0, 4),                 // A = seccomp_data.arch
                new(JumpIfEqual, 1, 0, AuditArchX86_64),        // x86_64? skip the kill
                new(Return, 0, 0, KillProcess),
                new(LoadWordAbsolute, 0, 0, 0),                 // A = seccomp_data.nr
                new(JumpIfSet, 0, 1, 0x40000000),               // x32 bit set? fall into the kill
                new(Return, 0, 0, KillProcess),
                new(JumpIfEqual, 2, 0, 42),                     // connect -> USER_NOTIF
                new(JumpIfEqual, 1, 0, 52),                     // getpeername -> USER_NOTIF
                new(Return, 0, 0, Allow),
                new(Return, 0, 0, UserNotif),
            ],
            program);
    }

    [Fact]
    public void BuildFilterProgram_EveryTrappedNumber_JumpsExactlyToUserNotif()
    {
        int[] trapped = Enumerable.Range(0, Seccomp.MaxTrappedSyscalls).ToArray();
        Instruction[] program = Decode(Seccomp.BuildFilterProgram(trapped));

        Assert.Equal(trapped.Length + 8, program.Length);
        for (int i = 0; i < trapped.Length; i++)
        {
            int at = 6 + i;
            Assert.Equal(JumpIfEqual, program[at].Code);
            Assert.Equal((uint)trapped[i], program[at].K);
            Assert.Equal(new Instruction(Return, 0, 0, UserNotif), program[at + 1 + program[at].JumpTrue]);
            Assert.Equal(new Instruction(JumpIfEqual, 0, 0, 0) with { K = (uint)trapped[i], JumpTrue = program[at].JumpTrue }, program[at]);
        }
    }

    [Fact]
    public void BuildFilterProgram_NoTrappedSyscalls_StillChecksArchitectureAndAllows()
    {
        Instruction[] program = Decode(Seccomp.BuildFilterProgram([]));

        Assert.Equal(8, program.Length);
        Assert.Equal(new Instruction(Return, 0, 0, Allow), program[6]);
    }

    [Fact]
    public void BuildFilterProgram_InvalidInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram(new int[Seccomp.MaxTrappedSyscalls + 1]));
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram([-1]));
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram([0x40000000 | 42]));
    }

    [Fact]
    public void BuildFilterProgram_ArgumentTraps_CompareBothHalvesAndFallThroughToTheNextBlock()
    {
        Instruction[] program = Decode(Seccomp.BuildFilterProgram([SyscallNumbers.Connect],
        [
            new ArgumentTrap(44, 4, ArgumentCondition.NonZero),           // sendto with a destination
            new ArgumentTrap(54, 1, ArgumentCondition.Equal, 6),          // setsockopt(IPPROTO_TCP)
        ]));

        Assert.Equal(
            [
                new(LoadWordAbsolute, 0, 0, 4),
                new(JumpIfEqual, 1, 0, AuditArchX86_64),
                new(Return, 0, 0, KillProcess),
                new(LoadWordAbsolute, 0, 0, 0),
                new(JumpIfSet, 0, 1, 0x40000000),
                new(Return, 0, 0, KillProcess),
                new(JumpIfEqual, 13, 0, 42),                    // connect -> USER_NOTIF
                new(LoadWordAbsolute, 0, 0, 0),                 // block 1: A = nr
                new(JumpIfEqual, 0, 4, 44),                     // not sendto: next block
                new(LoadWordAbsolute, 0, 0, 16 + (8 * 4)),      // A = low word of args[4]
                new(JumpIfEqual, 0, 9, 0),                      // not zero -> USER_NOTIF
                new(LoadWordAbsolute, 0, 0, 16 + (8 * 4) + 4),  // A = high word
                new(JumpIfEqual, 0, 7, 0),                      // not zero -> USER_NOTIF, else next block
                new(LoadWordAbsolute, 0, 0, 0),                 // block 2
                new(JumpIfEqual, 0, 4, 54),
                new(LoadWordAbsolute, 0, 0, 16 + 8),
                new(JumpIfEqual, 0, 2, 6),                      // low word is not 6: next block (allow)
                new(LoadWordAbsolute, 0, 0, 16 + 8 + 4),
                new(JumpIfEqual, 1, 0, 0),                      // high word 0 -> USER_NOTIF
                new(Return, 0, 0, Allow),
                new(Return, 0, 0, UserNotif),
            ],
            program);
    }

    [Fact]
    public void BuildFilterProgram_InvalidArgumentTraps_Throw()
    {
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram([], [new ArgumentTrap(44, 6, ArgumentCondition.NonZero)]));
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram([], [new ArgumentTrap(-1, 0, ArgumentCondition.NonZero)]));
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram([], [new ArgumentTrap(44, 0, (ArgumentCondition)7)]));
        Assert.Throws<ArgumentException>(() => Seccomp.BuildFilterProgram(new int[Seccomp.MaxTrappedSyscalls], [new ArgumentTrap(44, 4, ArgumentCondition.NonZero)]));
    }

    private static Instruction[] Decode(byte[] bytes)
    {
        Assert.Equal(0, bytes.Length % 8);
        var program = new Instruction[bytes.Length / 8];
        for (int i = 0; i < program.Length; i++)
        {
            ReadOnlySpan<byte> raw = bytes.AsSpan(i * 8, 8);
            program[i] = new Instruction(BinaryPrimitives.ReadUInt16LittleEndian(raw), raw[2], raw[3], BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]));
        }

        return program;
    }
}
