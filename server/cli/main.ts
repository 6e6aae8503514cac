export async function main(argv: string[]): Promise<number> {
  console.log('trainpilot', argv.join(' '));
  return 0;
}
