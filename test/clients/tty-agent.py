# Runs a real polkit text agent (pkttyagent) for this process on a pseudo
# terminal, answers its prompt the way a person would, then becomes the
# client command, so polkit finds the agent registered for the caller.
#
#   tty-agent.py ANSWER TRANSCRIPT -- CLIENT ARGV...
#
# ANSWER: "password:SECRET" types SECRET and Enter; "interrupt" presses
# Ctrl-C, which ends pkttyagent. TRANSCRIPT: a file
# that receives everything the agent printed on its terminal.
import os
import pty
import select
import termios
import sys
import time

answer, transcript = sys.argv[1], sys.argv[2]
client = sys.argv[sys.argv.index("--") + 1:]
me = os.getpid()

ready_r, ready_w = os.pipe()
os.set_inheritable(ready_w, True)
agent, terminal = pty.fork()
if agent == 0:
    os.execvp("pkttyagent", ["pkttyagent", "--process", str(me), "--notify-fd", str(ready_w)])
os.close(ready_w)
# pkttyagent closes the notify fd once it is registered with polkitd.
os.read(ready_r, 1)
os.close(ready_r)

client_pid = os.getpid()
if os.fork() == 0:
    # The person at the terminal: answers the first prompt and records
    # everything, for as long as the client runs. The agent still has to
    # send its answer to polkitd after printing the outcome, so it goes
    # only with the client.
    seen = b""
    answered = False
    with open(transcript, "wb") as out:
        while os.getppid() == client_pid:
            if not select.select([terminal], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(terminal, 4096)
            except OSError:
                break
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            seen += chunk
            if not answered and b"Password:" in seen:
                answered = True
                # Typing before the agent turns echo off would be flushed by its tcsetattr.
                while termios.tcgetattr(terminal)[3] & termios.ECHO:
                    time.sleep(0.01)
                if answer == "interrupt":
                    os.write(terminal, b"\x03")
                else:
                    os.write(terminal, answer.split(":", 1)[1].encode() + b"\n")
    while os.getppid() == client_pid:
        time.sleep(0.05)
    try:
        os.kill(agent, 15)
    except ProcessLookupError:
        pass
    os._exit(0)

os.close(terminal)
os.execvp(client[0], client)
