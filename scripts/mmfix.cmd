@echo off
rem Run mmfix from any cmd window (x64 Native Tools Command Prompt, Anaconda Prompt ...) in the
rem Python env you meant: %MMFIX_PYTHON%, then %VIRTUAL_ENV%\Scripts\python.exe, then
rem %CONDA_PREFIX%\python.exe, then python on PATH (not the Store alias), then "py -3".
rem Runs "<python> -m mmfix <arguments>" when mmfix is installed there, else mmfix.exe from PATH
rem (pipx), which targets the same env through VIRTUAL_ENV / CONDA_PREFIX. All arguments pass
rem through; the exit code is mmfix's. Your shell's variables are not changed (setlocal).
setlocal DisableDelayedExpansion
set "MMFIX_PY="

if defined MMFIX_PYTHON (
    if exist "%MMFIX_PYTHON%" (set "MMFIX_PY=%MMFIX_PYTHON%") else (
        >&2 echo mmfix: MMFIX_PYTHON="%MMFIX_PYTHON%" is not a file; point it at a python.exe or unset it
        exit /b 1
    )
)
if not defined MMFIX_PY if defined VIRTUAL_ENV if exist "%VIRTUAL_ENV%\Scripts\python.exe" set "MMFIX_PY=%VIRTUAL_ENV%\Scripts\python.exe"
if not defined MMFIX_PY if defined CONDA_PREFIX if exist "%CONDA_PREFIX%\python.exe" set "MMFIX_PY=%CONDA_PREFIX%\python.exe"
if not defined MMFIX_PY (
    for /f "delims=" %%P in ('where python.exe 2^>nul ^| findstr /v /i "\\WindowsApps\\"') do (
        if not defined MMFIX_PY set "MMFIX_PY=%%P"
    )
)
if not defined MMFIX_PY (
    for /f "delims=" %%P in ('py -3 -c "import sys; print(sys.executable)" 2^>nul') do (
        if not defined MMFIX_PY set "MMFIX_PY=%%P"
    )
)

if defined MMFIX_PY (
    "%MMFIX_PY%" -c "import mmfix" >nul 2>&1 && goto run_module
)
where mmfix.exe >nul 2>&1 && goto run_tool
if defined MMFIX_PY (
    >&2 echo mmfix: not installed in "%MMFIX_PY%" and no mmfix.exe on PATH; install it: "%MMFIX_PY%" -m pip install mmfix ^(Python 3.9 or newer^), or pipx install mmfix
) else (
    >&2 echo mmfix: no Python found ^(no VIRTUAL_ENV, CONDA_PREFIX, python or py on PATH^); activate your environment first
)
exit /b 1

:run_module
"%MMFIX_PY%" -m mmfix %*
exit /b %ERRORLEVEL%

:run_tool
mmfix.exe %*
exit /b %ERRORLEVEL%
