# Sourced by the test scripts: the Pythons tox needs, and tox itself.

# tox finds each Python of the matrix on PATH: make pyenv's installed
# versions visible, whether or not pyenv itself is on PATH.
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
if command -v pyenv >/dev/null 2>&1; then
    pyenv_root="$(pyenv root)"
fi
for dir in "$pyenv_root"/versions/3.*/bin; do
    [ -d "$dir" ] && PATH="$PATH:$dir"
done
export PATH

tools_venv=.venv-tools
if [ ! -x "$tools_venv/bin/tox" ]; then
    python3 -m venv "$tools_venv"
    "$tools_venv/bin/python" -m pip install --quiet --upgrade pip "tox>=4.2"
fi

# One tox run at a time per checkout: parallel runs would share .tox/.
tox() { flock .tox.lock "$tools_venv/bin/tox" "$@"; }
