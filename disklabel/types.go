package disklabel

import "strconv"

// gptTypes names the GPT partition types boards and their images use, as
// util-linux's `sfdisk --label gpt --list-types` names them; the
// Discoverable Partitions Specification's root, /usr and verity types for
// x86-64, ARM-64 and ARM are what systemd-repart writes.
var gptTypes = map[string]string{
	"c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI System",
	"21686148-6449-6e6f-744e-656564454649": "BIOS boot",
	"e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved",
	"ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
	"de94bba4-06d1-4d40-a16a-bfd50179d6ac": "Windows recovery environment",
	"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
	"0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
	"3b8f8425-20e0-4f3b-907f-1a25a76f98e8": "Linux server data",
	"4f68bce3-e8cd-4db1-96e7-fbcaf984b709": "Linux root (x86-64)",
	"69dad710-2ce4-4e3c-b16c-21a1d49abed3": "Linux root (ARM)",
	"b921b045-1df0-41c3-af44-4c6f280d3fae": "Linux root (ARM-64)",
	"8da63339-0007-60c0-c436-083ac8230908": "Linux reserved",
	"933ac7e1-2eb4-4f13-b844-0e14e2aef915": "Linux home",
	"a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
	"e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
	"4d21b016-b534-45c2-a9fb-5c16e091fd2d": "Linux variable data",
	"7ec6f557-3bc5-4aca-b293-16ef5df639d1": "Linux temporary data",
	"8484680c-9521-48c6-9c11-b0720656f69e": "Linux /usr (x86-64)",
	"7d0359a3-02b3-4f0a-865c-654403e70625": "Linux /usr (ARM)",
	"b0e01050-ee5f-4390-949a-9101b17104e9": "Linux /usr (ARM-64)",
	"2c7357ed-ebd2-46d9-aec1-23d437ec2bf5": "Linux root verity (x86-64)",
	"7386cdf2-203c-47a9-a498-f2ecce45a2d6": "Linux root verity (ARM)",
	"df3300ce-d69f-4c92-978c-9bfb0f38d820": "Linux root verity (ARM-64)",
	"77ff5f63-e7b6-4633-acf4-1565b864c0e6": "Linux /usr verity (x86-64)",
	"c215d751-7bcd-4649-be90-6627490a4c05": "Linux /usr verity (ARM)",
	"6e11a4e7-fbca-4ded-b9e9-e1a512bb664e": "Linux /usr verity (ARM-64)",
	"41092b05-9fc8-4523-994f-2def0408b176": "Linux root verity sign. (x86-64)",
	"42b0455f-eb11-491d-98d3-56145ba9d037": "Linux root verity sign. (ARM)",
	"6db69de6-29f4-4758-a7a5-962190f00ce3": "Linux root verity sign. (ARM-64)",
	"e7bb33fb-06cf-4e81-8273-e543b413e2e2": "Linux /usr verity sign. (x86-64)",
	"d7ff812f-37d1-4902-a810-d76ba57b975a": "Linux /usr verity sign. (ARM)",
	"c23ce4ff-44bd-4b00-b2d4-b41b3419e02a": "Linux /usr verity sign. (ARM-64)",
	"bc13c2ff-59e6-4262-a352-b275fd6f7172": "Linux extended boot",
}

// TypeName names a GPT type GUID or MBR type byte ("" when unknown).
func TypeName(t string) string {
	if n, ok := gptTypes[t]; ok {
		return n
	}
	if b, err := strconv.ParseUint(t, 16, 8); err == nil && len(t) == 2 {
		return mbrTypes[byte(b)]
	}
	return ""
}
